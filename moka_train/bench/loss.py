"""The loss of one micro-batch from the backbone's last hidden states (forward + backward), the old
way (the causal LM's own: ``[B, T, V]`` logits upcast to fp32, transformers' ``ForCausalLMLoss``)
against ``model.answer_loss`` (head and cross-entropy on the labelled positions only, chunked).

Inputs: hidden states ``[B, T, d]`` that need grad, a frozen bias-free head ``[V, d]`` (the
backbone's), labels on the last ``answer_fraction`` of each row (an AVQA sample: a ~700-token
prompt of media and question, then a short answer; ``fraction`` 0.1 is generous).

Peak memory: each case runs in a fresh process (``python -m moka_train.bench.loss --child``):
the inputs are built, the kernel's resident-set high-water mark is reset (``/proc/self/clear_refs``,
Linux), one forward + backward runs, and the peak is the high-water mark minus the resident set
before it (torch's CPU allocator returns large blocks to the OS, so the mark follows the live
tensors). The bytes of the tensors saved for backward (``saved_tensors_hooks``) are printed beside.
A case the old path cannot run within ``old_budget_gb`` runs at the largest batch that fits and is
scaled linearly in B (logits are B*T*V; marked ``extrapolated``). Times: both paths interleaved in
one process (``bench.timing``), at the batch the old path ran, and the new path at the full batch.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from ..data.tokenize import IGNORE_INDEX
from ..model.answer_loss import answer_loss
from .report import rounded
from .timing import Schedule, interleaved_times

LLAMA3_VOCAB = 128_256


@dataclass(frozen=True)
class LossCase:
    vocab: int = LLAMA3_VOCAB
    hidden: int = 4096
    batch: int = 4
    seq: int = 768
    answer_fraction: float = 0.1
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"  # of the head and the hidden states
    seed: int = 0


def old_loss(head: nn.Module, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The causal LM's own loss: every position's logits, then the shifted fp32 cross-entropy."""
    from transformers.loss.loss_utils import ForCausalLMLoss

    return ForCausalLMLoss(head(hidden), labels, vocab_size=head.out_features)


PATHS = {"old": old_loss, "new": answer_loss}


def case_inputs(case: LossCase) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(case.seed)
    dtype = getattr(torch, case.dtype)
    head = nn.Linear(case.hidden, case.vocab, bias=False, dtype=dtype).requires_grad_(False)
    nn.init.normal_(head.weight, std=case.hidden**-0.5)
    hidden = torch.randn(case.batch, case.seq, case.hidden, dtype=dtype, requires_grad=True)
    labels = torch.randint(0, case.vocab, (case.batch, case.seq))
    answer = max(1, round(case.seq * case.answer_fraction))
    labels[:, : case.seq - answer] = IGNORE_INDEX
    return head, hidden, labels


def step(path: str, head, hidden, labels) -> float:
    hidden.grad = None
    loss = PATHS[path](head, hidden, labels)
    loss.backward()
    return float(loss.detach())


def old_peak_estimate_gb(case: LossCase) -> float:
    """fp32 logits, their log-softmax and the logits' gradient exist at once: 3 x B*T*V floats."""
    return 3 * case.batch * case.seq * case.vocab * 4 / 2**30


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure_memory(path: str, case: LossCase) -> dict:
    """In this process: peak resident memory of one forward + backward above what was resident
    before it, and the bytes saved for backward."""
    head, hidden, labels = case_inputs(case)
    step(path, head, hidden, labels)  # warm: allocator pools, lazy inits, the grad buffer
    saved: list[int] = []
    pack = lambda t: saved.append(t.numel() * t.element_size()) or t  # noqa: E731
    before = _rss_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step(path, head, hidden, labels)
    peak = _rss_kb("VmHWM") - before
    return {"peak_mb": peak / 1024, "saved_mb": sum(saved) / 2**20}


def memory_in_child(path: str, case: LossCase) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "memory.json"
        args = [sys.executable, "-m", "moka_train.bench.loss", "--child", path, json.dumps(asdict(case)), str(result)]
        out = subprocess.run(args, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"loss benchmark child {path} {case} failed:\n{out.stderr[-2000:]}")
        return json.loads(result.read_text())


def old_batch_that_fits(case: LossCase, budget_gb: float) -> int:
    batch = case.batch
    while batch > 1 and old_peak_estimate_gb(replace(case, batch=batch)) > budget_gb:
        batch -= 1
    return batch


def compare(case: LossCase, budget_gb: float, schedule: Schedule) -> dict:
    """Old vs new at one (T, B): memory in fresh processes, times interleaved."""
    old_batch = old_batch_that_fits(case, budget_gb)
    small = replace(case, batch=old_batch)
    scale = case.batch / old_batch
    old_mem, new_mem = memory_in_child("old", small), memory_in_child("new", case)
    times = timed(small, schedule, ("old", "new"))
    new_full_s = times["new"] * scale if old_batch == case.batch else timed(case, schedule, ("new",))["new"]
    old_peak, old_s = old_mem["peak_mb"] * scale, times["old"] * scale
    return rounded(
        {
            "seq": case.seq,
            "batch": case.batch,
            "answer_positions": case.batch * max(1, round(case.seq * case.answer_fraction)),
            "old_measured_at_batch": old_batch,
            "old_extrapolated": old_batch != case.batch,
            "old_peak_mb": old_peak,
            "new_peak_mb": new_mem["peak_mb"],
            "old_saved_mb": old_mem["saved_mb"] * scale,
            "new_saved_mb": new_mem["saved_mb"],
            "old_s": old_s,
            "new_s": new_full_s,
            "peak_ratio_old_over_new": old_peak / max(new_mem["peak_mb"], 1e-9),
            "time_ratio_new_over_old": new_full_s / old_s,
            "time_ratio_same_batch": times["new"] / times["old"],
        }
    )


def timed(case: LossCase, schedule: Schedule, paths: tuple[str, ...]) -> dict[str, float]:
    head, hidden, labels = case_inputs(case)
    return interleaved_times({p: (lambda p=p: step(p, head, hidden, labels)) for p in paths}, schedule)


def loss_report(base: LossCase, seqs: list[int], budget_gb: float, schedule: Schedule) -> dict:
    return {
        "settings": {**asdict(base), "old_budget_gb": budget_gb, "rounds": schedule.rounds},
        "memory": "peak resident set above the inputs, one forward+backward in a fresh process (VmHWM)",
        "cases": [compare(replace(base, seq=seq), budget_gb, schedule) for seq in seqs],
    }


def _child(argv: list[str]) -> None:
    """One case in this fresh process; the result goes to the file ``argv[2]``."""
    path, case, result = argv[0], LossCase(**json.loads(argv[1])), Path(argv[2])
    torch.set_num_threads(1)
    result.write_text(json.dumps(measure_memory(path, case)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3)
    _child(parser.parse_args().child)
