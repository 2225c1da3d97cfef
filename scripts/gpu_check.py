"""One-shot GPU check: MokA vs LoRA training step time and MFU at a LLaMA-2-7B layer shape in bf16,
each step's peak memory beside the memory planner's estimate, MokA-folded vs LoRA-merged decode
speed, and bf16 vs fp32 gradient agreement; writes one JSON file (about 8 minutes on one H100).

    python scripts/gpu_check.py --output gpu_check.json          # on the GPU machine
    python scripts/gpu_check.py --dry-run --output /tmp/check.json # a toy shape on the CPU (the test)

Needs torch and transformers (what a fresh GPU machine has) and this package (``pip install -e .``
or run from a checkout). See moka_train/bench/gpu_check.py for what each number is.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from moka_train.bench.gpu_check import check_settings, gpu_check, write_report  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="gpu_check.json", help="the JSON file to write")
    parser.add_argument("--dry-run", action="store_true", help="a toy shape on the CPU: checks the script runs")
    parser.add_argument("--layers", type=int, default=None, help="decoder layers (default 8; the full 7B has 32)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak; default: looked up by GPU name")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("layers", args.layers), ("peak_tflops", args.peak_tflops)) if v is not None}
    report = gpu_check(check_settings(args.dry_run, **overrides))
    path = write_report(report, args.output)
    print(json.dumps({"written": str(path), "moka_vs_lora_step": report["moka_vs_lora_step"]}))
    return report


if __name__ == "__main__":
    main()
