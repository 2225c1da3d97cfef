"""One interleaved timer for every benchmark.

Candidates take turns within each round, so that the machine's drift and bursts hit every
candidate alike; warm-up rounds run everything untimed first. The order of the turns and the
statistic over the timed rounds are parameters, because the benchmarks need different ones:
a fixed rotation is reproducible, a shuffled order keeps one candidate from always following
the same other one (what that one leaves in the caches biased ratios by up to 6 %), and the
least time suits CPU micro-benchmarks (interference only ever adds time) where the median
suits whole steps.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

ORDERS = ("round_robin", "shuffled")
STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "median": statistics.median,
    "mean": statistics.fmean,
    "min": min,
    "sum": sum,  # the total over the timed rounds
}


@dataclass(frozen=True)
class Schedule:
    """How candidates take turns: ``warmup`` untimed rounds, then ``rounds`` timed ones; in each
    round every candidate runs ``block`` calls in a row (one sample: their mean), in a fixed
    ``round_robin`` order or a ``shuffled`` one (a new order each round, from ``seed``)."""

    rounds: int
    warmup: int = 1
    block: int = 1
    order: str = "round_robin"
    statistic: str = "median"
    seed: int = 0

    def __post_init__(self) -> None:
        for name, least in (("rounds", 1), ("warmup", 0), ("block", 1)):
            if getattr(self, name) < least:
                raise ValueError(f"Schedule.{name} must be at least {least}, got {getattr(self, name)}")
        if self.order not in ORDERS:
            raise ValueError(f"Schedule.order must be one of {list(ORDERS)}, got {self.order!r}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"Schedule.statistic must be one of {list(STATISTICS)}, got {self.statistic!r}")


class Probe(Protocol):
    """Measures around each turn, outside the timed span (e.g. a step's peak memory)."""

    def before(self, name: str) -> None: ...

    def after(self, name: str, timed: bool) -> None: ...


def interleaved_samples(
    candidates: Mapping[str, Callable[[], object]],
    schedule: Schedule,
    sync: Callable[[], None] | None = None,
    probe: Probe | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds per call of each candidate, one sample per timed round in the order they ran.
    ``sync`` (e.g. a CUDA synchronize) runs before a turn starts and before it is stopped, so
    that a turn's time includes its queued device work and nothing of the previous turn's."""
    names = list(candidates)
    rng = random.Random(schedule.seed)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(schedule.warmup + schedule.rounds):
        order = rng.sample(names, len(names)) if schedule.order == "shuffled" else names
        timed = round_ >= schedule.warmup
        for name in order:
            if sync is not None:
                sync()
            if probe is not None:
                probe.before(name)
            seconds = _timed_block(candidates[name], schedule.block, sync, clock)
            if probe is not None:
                probe.after(name, timed)
            if timed:
                samples[name].append(seconds)
    return samples


def interleaved_times(candidates: Mapping[str, Callable[[], object]], schedule: Schedule, **timing) -> dict[str, float]:
    """The schedule's statistic of each candidate's seconds per call (``timing``: sync, probe, clock
    as for ``interleaved_samples``)."""
    return summarize(interleaved_samples(candidates, schedule, **timing), schedule.statistic)


def summarize(samples: Mapping[str, list[float]], statistic: str) -> dict[str, float]:
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {list(STATISTICS)}, got {statistic!r}")
    return {name: STATISTICS[statistic](values) for name, values in samples.items()}


def _timed_block(call: Callable[[], object], block: int, sync, clock) -> float:
    start = clock()
    for _ in range(block):
        call()
    if sync is not None:
        sync()
    return (clock() - start) / block
