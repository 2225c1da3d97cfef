"""The training loop of one stage: forward, engine.backward, engine.step; guards; logging; saves."""

from __future__ import annotations

import math
import resource
import time
from collections import Counter
from dataclasses import asdict, dataclass

import torch

from ..modality import FIRST_MEDIA
from ..utils.dist import all_true
from ..utils.logging import get_logger
from .reduction import answer_tokens, scaled, step_loss, weighted_batches

log = get_logger(__name__)


class NonFiniteLossError(RuntimeError):
    pass


@dataclass
class LoopState:
    """Everything the loop needs to continue exactly where it stopped (saved in checkpoints)."""

    step: int = 0  # optimizer steps done in this stage
    epoch: int = 0
    position: int = 0  # micro-batches consumed in this epoch, by this rank
    nonfinite_total: int = 0
    nonfinite_in_row: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def tokens_per_modality(modality_ids: torch.Tensor, names: list[str]) -> dict[str, int]:
    counts = torch.bincount((modality_ids + 1).flatten(), minlength=FIRST_MEDIA + 1 + len(names)).tolist()
    out = {"text": counts[1], "query": counts[2]}  # shifted by one: index 0 is padding
    out.update({name: counts[FIRST_MEDIA + 1 + i] for i, name in enumerate(names)})
    return out


def train_stage(
    engine,
    make_loader,
    state: LoopState,
    total_steps: int,
    grad_accum: int,
    metrics,
    save,
    log_every: int,
    save_every: int,
    max_nonfinite_in_row: int,
    modality_names: list[str],
    stop_after: int | None = None,
    loss_reduction: str = "sample",
    evaluate=None,
    eval_every: int | None = None,
) -> bool:
    """Run until ``state.step == total_steps`` (returns True) or, with ``stop_after``, until this
    call has made that many steps (returns False). ``make_loader(epoch, position)`` resumes
    mid-epoch; ``save(state)`` writes a complete checkpoint; ``evaluate()``, the held-out loss,
    runs every ``eval_every`` steps and at the end, logged in the row of that step."""
    window, answer, tokens, micro, started = [], [], Counter(), 0, time.perf_counter()
    waited = {"s": 0.0}  # seconds spent waiting for the loader since the last log line
    stop_at = state.step + stop_after if stop_after else None
    last_logged = state.step
    while state.step < total_steps:
        batches = timed_batches(make_loader(state.epoch, state.position), waited)
        for batch, weight in weighted_batches(batches, loss_reduction, grad_accum):
            state.position += 1
            # counted on the host copy: .tolist() on a GPU tensor would sync every micro-step
            counts = tokens_per_modality(batch["modality_ids"], modality_names)
            answer_count = answer_tokens(batch) if loss_reduction == "token" else 0
            batch = to_device(batch, engine.device)
            loss = engine(batch)["loss"]
            if not _finite_everywhere(loss, state, max_nonfinite_in_row):
                continue
            engine.backward(scaled(loss, weight))
            engine.step()
            window.append(loss.item())
            answer.append(answer_count)
            tokens.update(counts)
            micro += 1
            if micro % grad_accum:
                continue
            state.step += 1
            loss_of_step = step_loss(window, answer, loss_reduction)
            due_eval = evaluate is not None and (state.step % eval_every == 0 or state.step == total_steps)
            if state.step % log_every == 0 or state.step == total_steps or due_eval:
                elapsed = time.perf_counter() - started
                extra = {"eval_loss": evaluate()} if due_eval else {}
                started = time.perf_counter()  # the held-out pass is not training time
                metrics.log(
                    state.step,
                    {
                        "loss": loss_of_step,
                        **extra,
                        "lr": engine.get_lr()[0],
                        "tokens_per_s": sum(tokens.values()) / max(elapsed, 1e-9),
                        "step_s": elapsed / (state.step - last_logged),
                        "data_wait_s": waited["s"] / (state.step - last_logged),
                        "data_wait_share": waited["s"] / max(elapsed, 1e-9),
                        "tokens": dict(tokens),
                        "nonfinite_skipped": state.nonfinite_total,
                        **peak_memory_mb(),
                    },
                )
                tokens, last_logged, waited["s"] = Counter(), state.step, 0.0
            window, answer = [], []
            if state.step % save_every == 0 or state.step in (total_steps, stop_at):
                save(state)
            if state.step >= total_steps:
                return True
            if state.step == stop_at:
                log.info("stopping after %d steps as asked (train.stop_after); resume=auto continues", stop_after)
                return False
        state.epoch += 1
        state.position = 0
    return True


def timed_batches(batches, waited: dict):
    """The batches of ``batches``, adding the seconds each took to arrive to ``waited["s"]``
    (the time the step waited for data: decoding not hidden by the loader's workers)."""
    iterator = iter(batches)
    while True:
        start = time.perf_counter()
        batch = next(iterator, None)
        waited["s"] += time.perf_counter() - start
        if batch is None:
            return
        yield batch


def peak_memory_mb() -> dict[str, float]:
    """Peak host RSS of this process, and peak GPU memory where there is a GPU."""
    peak = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if torch.cuda.is_available():
        peak["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return peak


def _finite_everywhere(loss: torch.Tensor, state: LoopState, limit: int) -> bool:
    """All ranks agree to skip a micro-batch whose loss is not finite on any rank."""
    if all_true(bool(torch.isfinite(loss).item())):
        state.nonfinite_in_row = 0
        return True
    state.nonfinite_total += 1
    state.nonfinite_in_row += 1
    log.warning(
        "non-finite loss before step %d: micro-batch skipped (%d in a row)", state.step + 1, state.nonfinite_in_row
    )
    if state.nonfinite_in_row >= limit:
        raise NonFiniteLossError(
            f"{limit} non-finite losses in a row; the last before optimizer step "
            f"{state.step + 1}. Lower the learning rate or check the data."
        )
    return False


def steps_for(num_batches_per_epoch: int, epochs: float, grad_accum: int, max_steps: int | None) -> int:
    steps = max(1, math.ceil(num_batches_per_epoch * epochs / grad_accum))
    return min(steps, max_steps) if max_steps else steps
