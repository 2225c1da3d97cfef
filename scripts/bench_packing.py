"""Useful (non-pad) tokens per second, packed vs. padded micro-batches, LoRA and MokA side by side.

    python scripts/bench_packing.py                        # CPU defaults below, about two minutes
    python scripts/bench_packing.py --device cuda --dtype bfloat16 --hidden 4096 --layers 4 ...

The data: a synthetic visual-text set shaped like LLaVA-Instruct-150K split into single turns
(``configs/visual_*.yaml``: ``multi_turn: split``, one image through a 32-query Q-Former). Every
sample is a chat prefix (12 tokens), 32 image tokens, a question of 8-40 tokens (uniform) and an
answer whose length is **log-normal** (median 80 tokens, sigma 0.9, clipped to 1..900). Why that
distribution: response lengths of instruction data are right-skewed with a long tail, which a
log-normal reproduces with two numbers; LLaVA-Instruct mixes short conversational answers (a few
to ~100 tokens) with detailed descriptions and complex-reasoning answers of a few hundred, so
the median sits near 80 and about 10 % of answers exceed 250 tokens. (The real file cannot be
read here; the parameters are a stated assumption, printed in the JSON.)

Both layouts get the same micro-batches of ``--batch`` samples, as the trainer does: padded to
the longest sample, or packed (``data.packing``: rows of at most ``--max-length`` tokens, position
ids restarting per sample, MokA's routing per sample). A step is forward + backward + AdamW on a
random LLaMA-shaped model (``moka_train.bench.llama.build``: only the adapters train); all runs are stepped
round robin over the same batches so drift of the machine hits each alike. tokens/s counts
non-pad tokens only. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from moka_train.bench.llama import add_llama_arguments, llama_settings  # noqa: E402
from moka_train.bench.packing import CPU_PACKING_SHAPE, PackingData, packing_report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8, help="samples per micro-batch")
    parser.add_argument("--max-length", type=int, default=2048, help="data.max_length: the longest packed row")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over the batches (one more warms up)")
    parser.add_argument("--seed", type=int, default=0)
    args, shape_argv = parser.parse_known_args()
    shape_parser = argparse.ArgumentParser(description="the model shape (bench_gpu.py's flags)")
    add_llama_arguments(shape_parser)
    shape = llama_settings(shape_parser.parse_args(shape_argv), preset=CPU_PACKING_SHAPE)
    data = PackingData(args.samples, args.batch, args.max_length, args.rounds, args.seed)
    print(json.dumps(packing_report(shape, data)))


if __name__ == "__main__":
    main()
