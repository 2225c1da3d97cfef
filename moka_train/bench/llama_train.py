"""Training rows of the LLaMA-shaped benchmarks: one method's model and optimizer stepped on a
routed batch, its step time (every method interleaved), peak memory and saved activations."""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable

import torch

from moka_train.bench.llama import LlamaBench, build, packed_batch, release, routed_batch, synchronizer
from moka_train.bench.timing import Schedule, interleaved_times

FLOP_KINDS = (("mfu", "model"), ("hfu", "hardware"), ("mfu_6n", "six_n"))


class Trainee:
    """One method's model, routing slot and AdamW over its adapters, ready for timed steps."""

    def __init__(self, settings: LlamaBench, method: str) -> None:
        self.model, self.slot = build(settings, method)
        self.model.config.use_cache = False
        if settings.checkpointing:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            self.model.enable_input_require_grads()  # the frozen embeddings would cut the graph at layer 0
        self.model.train()
        # foreach: one kernel per group, as DeepSpeed's flat partitions and CUDA's default make it
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad], lr=1e-4, foreach=True
        )

    def step(
        self,
        ids: torch.Tensor,
        mod: torch.Tensor,
        packed: dict | None = None,
        labels: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> None:
        """One training step; ``packed`` (position_ids, segment_ids): packed rows, the way
        MultimodalLM.forward passes them (no 2D mask: the backbone's block-diagonal mask)."""
        self.slot.set(mod, None if packed is None else packed["segment_ids"])  # part of a real step's cost
        extra = {"attention_mask": attention_mask} if packed is None else {"position_ids": packed["position_ids"]}
        self.model(input_ids=ids, labels=ids if labels is None else labels, **extra).loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def saved_activation_mb(step: Callable[[], None]) -> float:
    """MB of tensors autograd keeps for backward in one step (deterministic, on any device): what
    a method adds to activation memory. Storage is counted once however many views share it."""
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values()) / 2**20


class StepPeak:
    """The timer's probe on CUDA: per candidate, the most MB allocated above a step's start at its
    peak, over the timed steps."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.peak_mb, self._before = device, {}, 0

    def before(self, name: str) -> None:
        self._before = torch.cuda.memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)

    def after(self, name: str, timed: bool) -> None:
        peak = (torch.cuda.max_memory_allocated(self.device) - self._before) / 2**20
        if timed:
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), peak)


def train_rows(settings: LlamaBench, flops: dict, peak: float | None, packed: bool = False, instances: int = 1) -> dict:
    """Median step seconds per method, the methods stepped round robin (one step each per round)
    so that drift of the machine hits every method alike; warm-up rounds are not timed.
    ``packed``: the same shape holding ``PACKED_SAMPLES`` samples per row (``packed_batch``).
    ``instances``: models built per method, their medians averaged. On CPU two builds of the
    same method differ by ~5 % in step time (where their weights land in memory), as much as
    the ratio being measured; one model per method measures that placement as often as the method."""
    release(settings.device)
    names = {f"{method}#{k}": method for k in range(instances) for method in settings.methods}
    trainees = {name: Trainee(settings, method) for name, method in names.items()}
    if packed:
        ids, mod, extra = packed_batch(settings, settings.batch, settings.seq, settings.device)
    else:
        (ids, mod), extra = routed_batch(settings, settings.batch, settings.seq, settings.device), None
    steps = {name: functools.partial(trainee.step, ids, mod, packed=extra) for name, trainee in trainees.items()}
    on_cuda = settings.device.type == "cuda"
    probe = StepPeak(settings.device) if on_cuda else None
    schedule = Schedule(rounds=settings.steps, warmup=settings.warmup, order="round_robin", statistic="median")
    times = interleaved_times(steps, schedule, sync=synchronizer(settings.device), probe=probe)
    seconds = {m: statistics.mean(t for name, t in times.items() if names[name] == m) for m in settings.methods}
    return {
        method: {
            "step_s": seconds[method],
            "tokens_per_s": settings.batch * settings.seq / seconds[method],
            "step_peak_mb": max(probe.peak_mb[n] for n in names if names[n] == method) if on_cuda else None,
            "saved_activation_mb": saved_activation_mb(steps[f"{method}#0"]),
            **{
                key: None if peak is None else flops[count] / seconds[method] / (peak * 1e12)
                for key, count in FLOP_KINDS
            },
        }
        for method in settings.methods
    }
