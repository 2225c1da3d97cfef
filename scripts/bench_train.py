"""Training speed and peak memory of the tiny configuration, every adapter method side by side.

    python scripts/bench_train.py [--steps 30] [--methods lora moka ...]

Each method runs in its own process (so peak RSS is its own) on the same tiny workspace, the
same batches and the same number of optimizer steps (MultimodalLM forward + backward + AdamW).
Prints one JSON line: steps/s and peak RSS per method, and each method's ratios to LoRA.
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


def measure(method: str, workspace: str, steps: int, queue) -> None:
    import torch

    from moka_train.config import load_config
    from moka_train.data.tokenizer import load_tokenizer
    from moka_train.model.build import build_model
    from moka_train.train.data import build_stage_data

    os.environ["DEMO_ROOT"] = workspace
    torch.manual_seed(0)
    cfg = load_config(ROOT / "configs" / "tiny_avqa.yaml", [f"adapter.method={method}"])
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer, cfg.adapter)
    stage = cfg.stages[-1]
    data = build_stage_data(cfg, stage, tokenizer, [b.spec for b in model.branches])
    batches = [b for _, b in zip(range(steps), data.loader(0, 0))]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    model.train()

    def step(batch):
        loss = model(batch)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(batches[0])  # warm-up
    start = time.perf_counter()
    for batch in batches:
        step(batch)
    elapsed = time.perf_counter() - start
    queue.put({"method": method, "steps_per_s": len(batches) / elapsed,
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
        for method in methods:
            queue = ctx.Queue()
            proc = ctx.Process(target=measure, args=(method, workspace, args.steps, queue))
            proc.start()
            results[method] = queue.get()
            proc.join()
    base = results.get("lora")
    for r in results.values():
        if base:
            r["time_vs_lora"] = round(base["steps_per_s"] / r["steps_per_s"], 3)
            r["memory_vs_lora"] = round(r["peak_rss_mb"] / base["peak_rss_mb"], 3)
        r["steps_per_s"], r["peak_rss_mb"] = round(r["steps_per_s"], 2), round(r["peak_rss_mb"], 1)
    print(json.dumps({"bench": "train_tiny", "steps": args.steps, "machine": platform.machine(),
                      "feature_cache": "not implemented", "methods": results}))


if __name__ == "__main__":
    main()
