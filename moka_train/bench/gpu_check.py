"""The one-shot GPU check (``scripts/gpu_check.py``): on one GPU, at a LLaMA-2-7B layer shape in
bf16, in a few minutes, everything a first cluster run should confirm before it spends its hours:

* training step time, tokens/s and MFU of MokA vs LoRA (``bench.llama_train.train_rows``);
* each step's peak memory beside the memory planner's estimate for the same shape
  (``train.memory_plan``: activations with checkpointing, the adapters' gradients, and the logits
  of the causal LM's own loss that the benchmark model computes);
* decode tokens/s of MokA folded vs LoRA merged (``bench.llama_generate.generate_rows``);
* bf16 vs fp32 gradient agreement of the adapters (same weights, same batch).

``dry=True`` runs the same code on a toy shape on the CPU (the test). One JSON file is written.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from ..adapters import AdapterSpec
from ..train.memory_plan import DecoderShape, activation_bytes, adapter_shape
from .gpu import report_header
from .llama import (
    TINY,
    LlamaBench,
    build,
    llama_config,
    make_settings,
    peak_tflops,
    routed_batch,
    train_flops_per_step,
)
from .llama_generate import generate_rows
from .llama_train import train_rows
from .report import ratio, rounded

# a LLaMA-2-7B layer (hidden 4096, MLP 11008, 32 heads, vocab 32000), 8 of them: 8 minutes on one H100
CHECK_SHAPE = dict(layers=8, batch=4, seq=2048, prompt=1024, new=64, steps=5, warmup=2, reps=2)
DRY_SHAPE = {**TINY, "device": "cpu", "dtype": "float32", "steps": 1, "warmup": 0, "reps": 1, "new": 2}


def check_settings(dry: bool, **overrides) -> LlamaBench:
    return make_settings(**{**(DRY_SHAPE if dry else CHECK_SHAPE), **overrides})


def planner_estimate_mb(settings: LlamaBench, method: str) -> float:
    """What train.memory_plan predicts one benchmark step allocates above its start: activations
    (with checkpointing as the benchmark runs), the adapters' gradients, and the benchmark model's
    own loss (HF: [B, T, V] logits in the model dtype, upcast to fp32, and their fp32 gradient)."""
    config = llama_config(settings)
    shape = DecoderShape.from_config(config)
    element = torch.finfo(settings.dtype).bits // 8
    spec = AdapterSpec(method=method, rank=4, dropout=0.0, modalities=("video", "audio"))
    tokens = settings.batch * settings.seq
    activations = activation_bytes(shape, adapter_shape(spec), tokens, element, settings.checkpointing)
    model, _ = build(replace(settings, device=torch.device("meta")), method)
    grads = sum(p.numel() for p in model.parameters() if p.requires_grad) * element
    logits = tokens * shape.vocab * (element + 4 + 4)
    return (activations + grads + logits) / 2**20


def gradient_agreement(settings: LlamaBench, method: str = "moka") -> dict:
    """The adapters' gradients of one batch in bf16 against fp32 (same weights): the worst cosine
    over parameters and the relative error of all of them together."""
    grads = {}
    for dtype in (torch.float32, torch.bfloat16):
        model, slot = build(replace(settings, dtype=torch.float32), method)
        model.to(dtype).train()
        ids, mod = routed_batch(settings, settings.batch, settings.seq, settings.device)
        slot.set(mod)
        model(input_ids=ids, labels=ids).loss.backward()
        grads[dtype] = {n: p.grad.float().flatten() for n, p in model.named_parameters() if p.grad is not None}
        del model
    full, half = grads[torch.float32], grads[torch.bfloat16]
    cosines = [torch.nn.functional.cosine_similarity(full[n], half[n], dim=0).item() for n in full]
    diff = sum(((full[n] - half[n]) ** 2).sum() for n in full) ** 0.5
    norm = sum((full[n] ** 2).sum() for n in full) ** 0.5
    return {"parameters": len(cosines), "cosine_min": min(cosines), "relative_error": float(diff / norm)}


def gpu_check(settings: LlamaBench) -> dict:
    started = time.perf_counter()
    flops = train_flops_per_step(llama_config(settings), settings.batch, settings.seq, settings.checkpointing)
    peak = peak_tflops(settings.device, settings.peak_tflops)
    train = train_rows(settings, flops, peak)
    for method, row in train.items():
        row["planner_estimate_mb"] = planner_estimate_mb(settings, method)
        measured = row["step_peak_mb"]
        row["measured_over_planner"] = None if measured is None else measured / row["planner_estimate_mb"]
    generate = generate_rows(settings, kinds=("lora_merged", "moka_folded"))
    return rounded(
        {
            **report_header(settings, peak),
            "train": train,
            "moka_vs_lora_step": ratio(train, "step_s", "moka", "lora"),
            "generate": generate,
            "moka_folded_vs_lora_merged_decode": ratio(generate, "decode_tok_s", "moka_folded", "lora_merged"),
            "bf16_vs_fp32_gradients": gradient_agreement(replace(settings, batch=1, layers=min(settings.layers, 2))),
            "wall_s": time.perf_counter() - started,
        }
    )


def write_report(report: dict, output: str | Path) -> Path:
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    return path
