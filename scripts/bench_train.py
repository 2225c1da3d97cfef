"""Training speed and peak memory of the tiny configuration, every adapter method side by side.

    python scripts/bench_train.py [--steps 30] [--methods lora moka ...]

Each method runs in its own process (so peak RSS is its own) on the same tiny workspace, the
same batches and the same number of optimizer steps (data loading + MultimodalLM forward +
backward + AdamW); lora and moka run again reading the frozen-encoder feature cache. Prints one
JSON line: steps/s and peak RSS per run, ratios to LoRA, and the cache's speed-up.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(method: str, workspace: str, steps: int, queue, cache_dir: str | None = None) -> None:
    import torch

    from moka_train.config import load_config
    from moka_train.data.tokenizer import load_tokenizer
    from moka_train.model.build import build_model
    from moka_train.train.data import build_stage_data

    os.environ["DEMO_ROOT"] = workspace
    torch.manual_seed(0)
    overrides = [f"adapter.method={method}"] + ([f"data.feature_cache={cache_dir}"] if cache_dir else [])
    cfg = load_config(ROOT / "configs" / "tiny_avqa.yaml", overrides)
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer, cfg.adapter)
    stage = cfg.stages[-1]
    data = build_stage_data(cfg, stage, tokenizer, [b.spec for b in model.branches])
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    model.train()

    def step(batch):
        loss = model(batch)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    # data loading (decoding, or reading cached features) is part of a training step's cost
    batches = iter(data.loader(0, 0))
    step(next(batches))  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step(next(batches))
    elapsed = time.perf_counter() - start
    queue.put({"method": method, "steps_per_s": steps / elapsed,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "trainable": sum(p.numel() for p in params)})


def main() -> None:
    from moka_train.adapters import available_methods
    from moka_train.testing.workspace import build_tiny_workspace

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--methods", nargs="*", default=None, help="default: every registered method")
    args = parser.parse_args()
    methods = args.methods or available_methods()
    ctx = mp.get_context("spawn")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        workspace = str(build_tiny_workspace(Path(tmp) / "ws", seed=0, num_av=4 * (args.steps + 1)))
        cache_dir = fill_cache(workspace, Path(tmp) / "cache")
        runs = [(m, None) for m in methods] + [(m, cache_dir) for m in ("lora", "moka") if m in methods]
        for method, cache in runs:
            queue = ctx.Queue()
            proc = ctx.Process(target=measure, args=(method, workspace, args.steps, queue, cache))
            proc.start()
            results[method + ("+cache" if cache else "")] = queue.get()
            proc.join()
    for name, r in results.items():
        base = results.get("lora+cache" if name.endswith("+cache") else "lora")
        if base:
            r["time_vs_lora"] = round(base["steps_per_s"] / r["steps_per_s"], 3)
            r["memory_vs_lora"] = round(r["peak_rss_mb"] / base["peak_rss_mb"], 3)
        r["steps_per_s"], r["peak_rss_mb"] = round(r["steps_per_s"], 2), round(r["peak_rss_mb"], 1)
    speedup = {m: round(results[f"{m}+cache"]["steps_per_s"] / results[m]["steps_per_s"], 3)
               for m in ("lora", "moka") if f"{m}+cache" in results}
    print(json.dumps({"bench": "train_tiny", "steps": args.steps, "machine": platform.machine(),
                      "feature_cache_speedup": speedup, "methods": results}))


def fill_cache(workspace: str, cache_dir: Path) -> str:
    from moka_train.config import load_config
    from moka_train.train.feature_cache_writer import fill_feature_cache

    os.environ["DEMO_ROOT"] = workspace
    fill_feature_cache(load_config(ROOT / "configs" / "tiny_avqa.yaml", [f"data.feature_cache={cache_dir}"]))
    return str(cache_dir)


if __name__ == "__main__":
    main()
