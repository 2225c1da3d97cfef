"""Decode throughput: clips/s for F-frame, S-px uniform sampling on one core.

OMP_NUM_THREADS=1 taskset -c 0 python scripts/bench_decode.py --clips 20 --seconds 10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from moka_train.bench.decode import DecodeBench, clips_per_second  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--source-size", type=int, default=360)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    bench = DecodeBench(args.clips, args.seconds, args.fps, args.source_size, args.frames, args.size)
    print(
        f"{clips_per_second(bench):.1f} clips/s ({bench.frames} frames at {bench.size}px from "
        f"{bench.seconds:.0f}s {bench.source_size}px {bench.fps}fps H.264 clips, one decoder thread)"
    )


if __name__ == "__main__":
    main()
