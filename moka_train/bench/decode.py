"""Media decode throughput (``scripts/bench_decode.py``): clips/s of uniform F-frame sampling at
S px from synthetic H.264 clips, through the loader's own ``load_video``."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moka_train.data.media import load_video
from moka_train.testing.synthetic import moving_clip, write_mp4


@dataclass(frozen=True)
class DecodeBench:
    clips: int = 20
    seconds: float = 10.0  # clip length
    fps: int = 25
    source_size: int = 360
    frames: int = 10
    size: int = 224


def clips_per_second(bench: DecodeBench) -> float:
    """Clips decoded per second (writing the clips is not timed)."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k in range(bench.clips):
            frames = moving_clip(rng, "red", "circle", "right", int(bench.seconds * bench.fps), bench.source_size)
            paths.append(Path(tmp) / f"c{k}.mp4")
            write_mp4(paths[-1], frames, bench.fps)
        start = time.perf_counter()
        for path in paths:
            load_video(path, bench.frames, bench.size)
        return bench.clips / (time.perf_counter() - start)
