"""The reports of ``scripts/bench_gpu.py`` (training and generation on the LLaMA shape) and
``scripts/bench_generate.py`` (generation only, every kind, as ratios)."""

from __future__ import annotations

import torch

from moka_train.bench.llama import SEVEN_B, LlamaBench, device_name, llama_config, peak_tflops, train_flops_per_step
from moka_train.bench.llama_generate import GENERATE_KINDS, generate_rows
from moka_train.bench.llama_train import train_rows
from moka_train.bench.report import ratio, rounded

SHAPE_KEYS = (*SEVEN_B, "batch", "seq", "prompt", "new", "checkpointing")
GENERATE_SHAPE_KEYS = ("hidden", "layers", "batch", "prompt", "new", "reps")


def report_header(settings: LlamaBench, peak: float | None) -> dict:
    """What a LLaMA-shape GPU report says first: the device, dtype, peak and shape it measured."""
    return {
        "device": device_name(settings.device),
        "dtype": str(settings.dtype).removeprefix("torch."),
        "peak_tflops": peak,
        "shape": {key: getattr(settings, key) for key in SHAPE_KEYS},
    }


def gpu_report(settings: LlamaBench) -> dict:
    """Training (one sample per row, then packed) and generation rows with their ratios."""
    flops = train_flops_per_step(llama_config(settings), settings.batch, settings.seq, settings.checkpointing)
    peak = peak_tflops(settings.device, settings.peak_tflops)
    train = train_rows(settings, flops, peak)
    train_packed = train_rows(settings, flops, peak, packed=True)
    generate = generate_rows(settings)
    return rounded(
        {
            **report_header(settings, peak),
            "flops_per_step": flops,
            "train": train,
            "moka_vs_lora_step": ratio(train, "step_s", "moka", "lora"),
            "train_packed": train_packed,
            "moka_vs_lora_packed_step": ratio(train_packed, "step_s", "moka", "lora"),
            "generate": generate,
            "moka_folded_vs_lora_merged_decode": ratio(generate, "decode_tok_s", "moka_folded", "lora_merged"),
        }
    )


def generate_report(settings: LlamaBench) -> dict:
    """Every generation kind's tokens/s and the ratios between them."""
    rows = generate_rows(settings, kinds=tuple(GENERATE_KINDS))
    return rounded(
        {
            "moka_folded_vs_lora_merged_decode": ratio(rows, "decode_tok_s", "moka_folded", "lora_merged"),
            "moka_vs_lora_decode": ratio(rows, "decode_tok_s", "moka", "lora"),
            "moka_folded_vs_moka_prefill": ratio(rows, "prefill_tok_s", "moka_folded", "moka"),
            "moka_vs_lora_prefill": ratio(rows, "prefill_tok_s", "moka", "lora"),
            "lora_merged_vs_base_decode": ratio(rows, "decode_tok_s", "lora_merged", "base"),
            "tokens_per_s": rows,
            "shape": {key: getattr(settings, key) for key in GENERATE_SHAPE_KEYS},
            "machine": f"cpu threads={torch.get_num_threads()}",
        }
    )
