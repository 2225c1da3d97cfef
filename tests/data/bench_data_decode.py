"""Decode throughput: clips/s for F-frame, S-px uniform sampling on one core (not a test).

OMP_NUM_THREADS=1 taskset -c 0 python tests/data/bench_data_decode.py --clips 20 --seconds 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from moka_train.data.media import load_video  # noqa: E402
from moka_train.testing.synthetic import moving_clip, write_mp4  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--source-size", type=int, default=360)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k in range(args.clips):
            frames = moving_clip(rng, "red", "circle", "right", int(args.seconds * args.fps), args.source_size)
            paths.append(Path(tmp) / f"c{k}.mp4")
            write_mp4(paths[-1], frames, args.fps)
        start = time.perf_counter()
        for p in paths:
            load_video(p, args.frames, args.size)
        elapsed = time.perf_counter() - start
    print(
        f"{args.clips / elapsed:.1f} clips/s ({args.frames} frames at {args.size}px from "
        f"{args.seconds:.0f}s {args.source_size}px {args.fps}fps H.264 clips, one decoder thread)"
    )


if __name__ == "__main__":
    main()
