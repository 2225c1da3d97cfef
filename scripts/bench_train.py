"""Training step speed and activation memory, every adapter method side by side, with and without
the frozen-encoder feature cache; and LoRA vs MokA on a LLaMA-shaped model.

    python scripts/bench_train.py [--rounds 8 --block 3] [--methods lora moka ...] [--no-llama]
    python scripts/bench_train.py --paper-media --methods lora moka --rounds 2 --block 1 --no-llama
    python scripts/bench_train.py --data-wait --workers 2 [--paper-media]   # loader wait only

Tiny recipe (``configs/tiny_avqa.yaml``, its fine-tuning stage): one process builds one model per
method with the stage's trainable set, AdamW over the trainer's parameter groups (foreach, as
DeepSpeed's flat partitions make it one kernel per group), and iterators over the stage's data
with media decoded (CLIP, BEATs and video/audio decoding each step) and, for lora and moka, read
from the feature cache (``data_prep/cache_features.py``). A step is data loading + forward +
backward + optimizer step. All runs are stepped round robin, ``--block`` steps each per round,
so drift of the machine hits every run alike; the median block is reported.

``--paper-media``: the same recipe with real-sized encoders (CLIP ViT-B/16, BEATs base; random
weights) on 10 s clips sampled as in the paper (10 frames at 224 px, 10 one-second audio
segments), where decoding and encoding cost what they cost in the paper's setting.

LLaMA shape (``bench_gpu.py``'s training rows, ``moka_train.bench.llama_train``, with CPU
settings): a random LLaMA-shaped model (hidden 1024) whose GEMMs dominate, as on a real
backbone, so the MokA / LoRA step ratio measures the method rather than Python overhead per layer.
Two models per method, their medians averaged: two builds of one method differ by ~5 % here.

Data wait (``--data-wait``, also part of the full run): MokA on the tiny recipe through the
trainer's loader (``StageData.loader``, media decoded in ``data.num_workers`` processes) with 0
and ``--workers`` workers; per step the time spent waiting for the next batch (what
``metrics.jsonl`` logs as ``data_wait_s``) and its share of the step. The load average of the
machine is printed with it: loader workers compete with the step for the same cores.

Prints one JSON line: steps/s and saved activations per run, ratios to LoRA, the cache speed-up.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without install

from moka_train.bench.recipe import TrainBench, train_report  # noqa: E402

RECIPE = ROOT / "configs" / "tiny_avqa.yaml"


def main() -> None:
    from moka_train.adapters import available_methods

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--block", type=int, default=3, help="steps per run per round")
    parser.add_argument("--methods", nargs="*", default=None, help="default: every registered method")
    parser.add_argument("--no-llama", dest="llama", action="store_false", help="skip the LLaMA-shaped rows")
    parser.add_argument("--workers", type=int, default=2, help="loader workers of the data-wait rows")
    parser.add_argument("--data-wait", action="store_true", help="only the data-wait rows (0 and --workers workers)")
    parser.add_argument(
        "--paper-media",
        action="store_true",
        help="real-sized encoders (CLIP ViT-B/16, BEATs base) and 10 s clips sampled as in the "
        "paper (10 frames at 224 px, 10 audio segments); the LLM stays tiny",
    )
    args = parser.parse_args()
    bench = TrainBench(
        methods=tuple(args.methods or available_methods()),
        rounds=args.rounds,
        block=args.block,
        workers=args.workers,
        data_wait_only=args.data_wait,
        paper_media=args.paper_media,
        llama=args.llama,
    )
    print(json.dumps(train_report(RECIPE, bench)))


if __name__ == "__main__":
    main()
