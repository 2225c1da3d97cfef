"""Synthetic multimodal data whose answers can only be known from the media (CLI).

    python data_prep/make_synthetic.py --out data/synthetic --seed 0 --num-av 64 --num-image 64 --num-speech 64

The generator lives in ``moka_train.testing.synthetic`` so the demo and the tests use it too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from moka_train.testing.synthetic import make_synthetic  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-av", type=int, default=16)
    parser.add_argument("--num-image", type=int, default=16)
    parser.add_argument("--num-speech", type=int, default=16)
    parser.add_argument("--frames", type=int, default=30, help="frames per clip")
    parser.add_argument("--size", type=int, default=64, help="video/image side in pixels (even)")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--audio-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    counts = make_synthetic(
        args.out,
        args.seed,
        args.num_av,
        args.num_image,
        args.num_speech,
        args.frames,
        args.size,
        args.fps,
        args.audio_seconds,
    )
    print(json.dumps({"out": str(args.out), **counts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
