"""Benchmark one adapted linear layer, side by side in one run; prints one JSON line of ratios.

    python scripts/bench_adapters.py            # d=4096, B=8, T=512, r=4, text+video+audio, fp32
    python scripts/bench_adapters.py --d 1024 --reps 3   # quicker

Ratios (time of the first over time of the second, forward + backward, least of --reps rounds
in each of which every layer runs once, in a random order):
  moka_vs_reference    official-style per-sample loop / our MokA       (adapter path only; higher is better)
  moka_vs_lora_adapter our MokA / our LoRA                              (adapter path only; target <= 1.5)
  moka_vs_lora_layer   our MokA layer / our LoRA layer, W0 included     (target <= 1.05)
  lora_vs_peft         our LoRA layer / peft's LoRA layer, W0 included  (target <= 1.1)
  wander_vs_lora_layer our Wander layer (default options) / our LoRA layer, W0 included
  layer_vs_lora        every registered method's layer / our LoRA layer, W0 included
  moka_decode_vs_lora_decode  one decode step (B new text tokens, no grad, W0 included): MokA
                       takes its text path only, so it should cost what base + one LoRA costs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from moka_train.bench.adapters import LayerBench, layer_report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--methods",
        nargs="*",
        default=None,
        help="methods for the per-method whole-layer ratios (default: every registered one)",
    )
    args = parser.parse_args()
    methods = tuple(args.methods) if args.methods else None
    print(json.dumps(layer_report(LayerBench(args.d, args.batch, args.tokens, args.rank, args.reps, methods))))


if __name__ == "__main__":
    main()
