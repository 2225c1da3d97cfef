"""Benchmark scorers: ``SCORERS[name](rows, mode)`` → result dict (see ``common.result``)."""

from __future__ import annotations

from collections.abc import Callable

from . import airbench, ave, mmau, mmbench, mme, music_avqa, pope, seed, synthetic_avqa, wer
from .common import MODES, ScoringError

SCORERS: dict[str, Callable[..., dict]] = {
    "music_avqa": music_avqa.score,
    "ave": ave.score,
    "mme": mme.score,
    "mmbench": mmbench.score,
    "pope": pope.score,
    "seed": seed.score,
    "mmau_speech": mmau.score,
    "airbench_speech": airbench.score,
    "asr_wer": wer.score,
    "synthetic_avqa": synthetic_avqa.score,  # the demo's held-out QA (make demo, configs/tiny_avqa.yaml)
}
# scorers that read a separate annotations file (AVE's class list and truth by video id)
TAKES_ANNOTATIONS = frozenset({"ave"})


def get_scorer(name: str) -> Callable[..., dict]:
    if name not in SCORERS:
        raise ScoringError(f"unknown benchmark {name!r}; choose from {', '.join(SCORERS)}")
    return SCORERS[name]


__all__ = ["MODES", "SCORERS", "TAKES_ANNOTATIONS", "ScoringError", "get_scorer"]
