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

import json
import sys

import torch
from bench_gpu import GENERATE_KINDS, generate_rows, parse_args, rounded  # scripts/ is sys.path[0]

CPU_DEFAULTS = [
    "--device",
    "cpu",
    "--dtype",
    "float32",
    "--hidden",
    "1024",
    "--layers",
    "6",
    "--intermediate",
    "2752",
    "--heads",
    "16",
    "--vocab",
    "8000",
    "--batch",
    "4",
    "--prompt",
    "256",
    "--new",
    "32",
    "--reps",
    "3",
]


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(CPU_DEFAULTS + (sys.argv[1:] if argv is None else argv))  # later flags win
    rows = generate_rows(args, kinds=tuple(GENERATE_KINDS))

    def ratio(num: str, den: str, key: str = "decode_tok_s") -> float:
        return rows[num][key] / rows[den][key]

    result = rounded(
        {
            "moka_folded_vs_lora_merged_decode": ratio("moka_folded", "lora_merged"),
            "moka_vs_lora_decode": ratio("moka", "lora"),
            "moka_folded_vs_moka_prefill": ratio("moka_folded", "moka", "prefill_tok_s"),
            "moka_vs_lora_prefill": ratio("moka", "lora", "prefill_tok_s"),
            "lora_merged_vs_base_decode": ratio("lora_merged", "base"),
            "tokens_per_s": rows,
            "shape": {k: getattr(args, k) for k in ("hidden", "layers", "batch", "prompt", "new", "reps")},
            "machine": f"cpu threads={torch.get_num_threads()}",
        }
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
