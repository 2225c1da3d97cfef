"""`evaluate.py report RESULT...`: a markdown table, methods x benchmarks, with the paper beside.

A result file is the JSON line that `evaluate.py run` writes next to its predictions
(`<predictions>.result.json`: benchmark, value, method, recipe). Where the recipe's backbone and
method appear in the paper's tables, the published figure stands beside ours.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..utils.jsonl import read_objects

# (backbone, benchmark) -> method -> published value (the paper's Tables 1-5)
LLAMA2 = {
    "music_avqa": {
        "lora": 73.41,
        "multi_lora": 72.66,
        "lora_moe": 73.57,
        "dora": 73.97,
        "hydra_lora": 74.12,
        "unimodal_lora": 74.37,
        "uni_mm_lora": 74.43,
        "uni_mm_lora_gate": 74.94,
        "moka": 75.71,
        "moka_text_query": 74.94,
        "moka_naive": 75.04,
        "moka_no_xattn": 74.85,
        "moka_proj": 73.83,
    },
    "ave": {
        "lora": 69.84,
        "multi_lora": 71.77,
        "lora_moe": 72.81,
        "dora": 72.18,
        "hydra_lora": 72.27,
        "unimodal_lora": 71.44,
        "uni_mm_lora": 72.36,
        "uni_mm_lora_gate": 73.56,
        "moka": 74.68,
        "moka_text_query": 72.59,
        "moka_naive": 73.18,
    },
    "mme": {
        "lora": 908.52,
        "multi_lora": 882.87,
        "lora_moe": 938.52,
        "dora": 786.47,
        "hydra_lora": 774.47,
        "unimodal_lora": 992.31,
        "uni_mm_lora": 972.87,
        "uni_mm_lora_gate": 988.37,
        "moka": 1025.86,
        "moka_text_query": 955.18,
        "moka_naive": 996.73,
        "moka_proj": 926.77,
    },
    "mmbench": {
        "lora": 50.64,
        "multi_lora": 49.83,
        "lora_moe": 51.98,
        "dora": 51.31,
        "hydra_lora": 47.33,
        "unimodal_lora": 51.98,
        "uni_mm_lora": 50.96,
        "uni_mm_lora_gate": 52.01,
        "moka": 52.74,
        "moka_text_query": 51.25,
        "moka_naive": 51.49,
        "moka_proj": 53.97,
    },
    "pope": {
        "lora": 70.28,
        "multi_lora": 68.20,
        "lora_moe": 71.15,
        "dora": 71.07,
        "hydra_lora": 70.87,
        "unimodal_lora": 72.24,
        "uni_mm_lora": 73.39,
        "uni_mm_lora_gate": 73.48,
        "moka": 74.23,
        "moka_text_query": 72.94,
        "moka_naive": 73.52,
        "moka_no_xattn": 73.57,
        "moka_proj": 72.43,
    },
    "seed": {
        "lora": 39.71,
        "multi_lora": 38.44,
        "lora_moe": 39.13,
        "dora": 38.96,
        "hydra_lora": 38.81,
        "unimodal_lora": 39.27,
        "uni_mm_lora": 39.74,
        "uni_mm_lora_gate": 39.91,
        "moka": 40.45,
        "moka_text_query": 39.91,
        "moka_naive": 40.17,
        "moka_proj": 41.01,
    },
    "mmau_speech": {
        "lora": 30.33,
        "multi_lora": 29.73,
        "lora_moe": 27.63,
        "dora": 26.73,
        "hydra_lora": 29.13,
        "unimodal_lora": 38.14,
        "uni_mm_lora": 37.54,
        "uni_mm_lora_gate": 32.13,
        "moka": 38.44,
    },
    "airbench_speech": {
        "lora": 31.75,
        "multi_lora": 31.91,
        "lora_moe": 33.97,
        "dora": 34.36,
        "hydra_lora": 31.66,
        "unimodal_lora": 35.14,
        "uni_mm_lora": 32.56,
        "uni_mm_lora_gate": 33.04,
        "moka": 39.64,
        "moka_no_xattn": 33.25,
    },
}
PAPER = {"llama2": LLAMA2}


# a recipe name's backbone word: llama2, llama3, qwen2, qwen25, qwen25vl, qwen3, smollm2, ...
_BACKBONE_WORD = re.compile(r"(llama|qwen|smollm|mistral|vicuna|gemma|phi)\d[0-9a-z]*")


def backbone_of(recipe: str) -> str:
    """The backbone a recipe name says: `avqa_llama2` -> `llama2`, `real_speech_smollm2` ->
    `smollm2`, `ave_llama2_official` -> `llama2` (the word that names a model family, wherever it
    stands); the demo's `tiny_*` recipes run a tiny random LLaMA: `tiny`; anything else: "" (shown
    as "?", never a scenario word taken for a backbone)."""
    words = Path(recipe).stem.split("_")
    named = [w for w in words if _BACKBONE_WORD.fullmatch(w)]
    if named:
        return named[0]
    return "tiny" if "tiny" in words else ""


def read_results(paths: list[str | Path]) -> list[dict]:
    results = []
    for path in paths:
        rows = read_objects(path, what="a result", file_kind="result file")
        if not rows:
            raise ValueError(f"{path}: empty result file")
        results.append(rows[-1][1])  # the latest result
    return results


def markdown_table(results: list[dict]) -> str:
    benchmarks = sorted({r["benchmark"] for r in results})
    rows: dict[tuple[str, str], dict[str, dict]] = {}
    for r in results:
        rows.setdefault((backbone_of(r.get("recipe", "")), r.get("method", "?")), {})[r["benchmark"]] = r
    lines = ["| backbone | method | " + " | ".join(benchmarks) + " |", "|---|---|" + "---|" * len(benchmarks)]
    for (backbone, method), by_bench in sorted(rows.items()):
        cells = []
        for bench in benchmarks:
            ours = by_bench.get(bench)
            paper = PAPER.get(backbone, {}).get(bench, {}).get(method)
            text = f"{ours['value']:.2f}" if ours else "–"
            cells.append(text + (f" (paper {paper:.2f})" if paper is not None else ""))
        lines.append(f"| {backbone or '?'} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
