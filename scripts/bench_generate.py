"""Prefill and decode speed of base, LoRA (unmerged, merged) and MokA (unfolded, folded) on the CPU.

    python scripts/bench_generate.py [--hidden 1024 --layers 6 --prompt 256 --new 32 --batch 4 --reps 3]

A randomly initialised LLaMA-shaped model (no weights needed), fp32, greedy with the KV cache;
the prompt is routed like the paper's AV sample (text, video, audio, query text; scaled to the
prompt length). ``moka_folded`` is what evaluation runs (``load_for_inference`` folds the text
path into W0): decode steps are plain matmuls, so its decode should match merged LoRA, while
prefill still runs the full MokA path. The same measurement as ``bench_gpu.py``'s generation
rows (every kind takes a turn at every decode step, in a random order), with CPU defaults.
Prints one JSON line of ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from moka_train.bench.gpu import generate_report  # noqa: E402
from moka_train.bench.llama import CPU_LLAMA_SHAPE, add_llama_arguments, llama_settings  # noqa: E402

# CPU defaults; any flag of bench_gpu.py given on the command line wins
CPU_DEFAULTS = dict(**CPU_LLAMA_SHAPE, layers=6, batch=4, prompt=256, new=32, reps=3)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_llama_arguments(parser)
    result = generate_report(llama_settings(parser.parse_args(argv), preset=CPU_DEFAULTS))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
