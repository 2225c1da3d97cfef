"""Prefill and decode speed of base, LoRA (unmerged and merged) and MokA, side by side in one run.

    python scripts/bench_generate.py [--hidden 1024 --layers 8 --prompt 512 --new 64 --batch 4]

A randomly initialised LLaMA-shaped model (no weights needed), fp32 on the CPU, greedy with the
KV cache. The prompt carries 320 video + 32 audio + 48 query-text tokens (ids only: the adapters
see the routing, the token embeddings are random either way). MokA's decode steps take its text
path (A_text and the shared B), so they should cost what LoRA's do. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moka_train.adapters import AdapterSpec, RoutingSlot, adapter_modules, apply_adapters, merge_text_path  # noqa: E402


def build(kind: str, args):
    from transformers import AutoModelForCausalLM, LlamaConfig

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=args.hidden, intermediate_size=int(args.hidden * 2.6875), vocab_size=32000,
                         num_hidden_layers=args.layers, num_attention_heads=args.hidden // 64)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    slot = RoutingSlot(2)
    if kind != "base":
        method = "moka" if kind == "moka" else "lora"
        apply_adapters(model, AdapterSpec(method=method, rank=4, dropout=0.0, modalities=("video", "audio")), slot)
        with torch.no_grad():
            for module in adapter_modules(model).values():
                module.lora_B.normal_(0, 0.01)
        if kind == "lora_merged":
            merge_text_path(model)
    return model, slot


def prompt(args):
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(3, 32000, (args.batch, args.prompt), generator=gen)
    mod = torch.zeros_like(ids)
    mod[:, 8:328], mod[:, 328:360], mod[:, 364:412] = 2, 3, 1
    return ids, mod


def measure(model, slot, ids, mod, new: int, reps: int) -> tuple[float, float]:
    """(prefill tokens/s, decode tokens/s), medians over reps; greedy decode with the KV cache,
    each step one new token per sequence (the pre-hook switches adapters to the text path)."""
    prefill, decode = [], []
    with torch.no_grad():
        for _ in range(reps + 1):
            slot.set(mod)
            start = time.perf_counter()
            out = model(input_ids=ids, use_cache=True)
            mid = time.perf_counter()
            cache, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            for _ in range(new):
                out = model(input_ids=token, past_key_values=cache, use_cache=True)
                cache, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            end = time.perf_counter()
            prefill.append(ids.numel() / (mid - start))
            decode.append(ids.shape[0] * new / (end - mid))
    return statistics.median(prefill[1:]), statistics.median(decode[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--new", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    ids, mod = prompt(args)
    speed = {}
    for kind in ("base", "lora", "lora_merged", "moka"):
        model, slot = build(kind, args)
        speed[kind] = measure(model, slot, ids, mod, args.new, args.reps)
    result = {
        "moka_vs_lora_prefill": speed["moka"][0] / speed["lora"][0],
        "moka_vs_lora_decode": speed["moka"][1] / speed["lora"][1],
        "moka_vs_lora_merged_decode": speed["moka"][1] / speed["lora_merged"][1],
        "lora_vs_base_decode": speed["lora"][1] / speed["base"][1],
        "tokens_per_s": {k: {"prefill": round(p, 1), "decode": round(d, 1)} for k, (p, d) in speed.items()},
        "shape": vars(args), "machine": f"{platform.machine()} threads={torch.get_num_threads()}",
    }
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
