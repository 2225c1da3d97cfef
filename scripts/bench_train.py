"""Training step speed and activation memory, every adapter method side by side, with and without
the frozen-encoder feature cache; and LoRA vs MokA on a LLaMA-shaped model.

    python scripts/bench_train.py [--rounds 8 --block 3] [--methods lora moka ...] [--no-llama]
    python scripts/bench_train.py --paper-media --methods lora moka --rounds 2 --block 1 --no-llama
    python scripts/bench_train.py --data-wait --workers 2 [--paper-media]   # loader wait only

Tiny recipe (``configs/tiny_avqa.yaml``, its fine-tuning stage): one process builds one model per
method with the stage's trainable set, AdamW over the trainer's parameter groups (foreach, as
DeepSpeed's flat partitions make it one kernel per group), and iterators over the stage's data
with media decoded (CLIP, BEATs and video/audio decoding each step) and, for lora and moka, read
from the feature cache (``data_prep/cache_features.py``). A step is data loading + forward +
backward + optimizer step. All runs are stepped round robin, ``--block`` steps each per round,
so drift of the machine hits every run alike; the median block is reported.

``--paper-media``: the same recipe with real-sized encoders (CLIP ViT-B/16, BEATs base; random
weights) on 10 s clips sampled as in the paper (10 frames at 224 px, 10 one-second audio
segments), where decoding and encoding cost what they cost in the paper's setting.

LLaMA shape (``bench_gpu.py``'s training rows with CPU settings): a random LLaMA-shaped model
(hidden 1024) whose GEMMs dominate, as on a real backbone, so the MokA / LoRA step ratio
measures the method rather than Python overhead per layer.

Data wait (``--data-wait``, also part of the full run): MokA on the tiny recipe through the
trainer's loader (``StageData.loader``, media decoded in ``data.num_workers`` processes) with 0
and ``--workers`` workers; per step the time spent waiting for the next batch (what
``metrics.jsonl`` logs as ``data_wait_s``) and its share of the step. The load average of the
machine is printed with it: loader workers compete with the step for the same cores.

Prints one JSON line: steps/s and saved activations per run, ratios to LoRA, the cache speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from bench_gpu import parse_args as gpu_args  # scripts/ is sys.path[0]
from bench_gpu import rounded, saved_activation_mb, train_rows

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECIPE = ROOT / "configs" / "tiny_avqa.yaml"
LLAMA_SHAPE = [
    "--device",
    "cpu",
    "--dtype",
    "float32",
    "--hidden",
    "1024",
    "--layers",
    "4",
    "--intermediate",
    "2752",
    "--heads",
    "16",
    "--vocab",
    "8000",
    "--batch",
    "2",
    "--seq",
    "512",
    "--no-checkpointing",
    "--methods",
    "lora",
    "moka",
]


class Run:
    """One method training on the tiny recipe's fine-tuning stage, from decoded media or the cache."""

    def __init__(self, method: str, cache_dir: str | None, overrides: list[str]) -> None:
        from moka_train.config import load_config
        from moka_train.data.tokenizer import load_tokenizer
        from moka_train.model.build import build_model
        from moka_train.train.data import build_stage_data
        from moka_train.train.engine import param_groups
        from moka_train.train.stages import set_trainable

        overrides = [*overrides, f"adapter.method={method}"] + (
            [f"data.feature_cache={cache_dir}"] if cache_dir else []
        )
        cfg = load_config(RECIPE, overrides)
        stage = cfg.stages[-1]
        torch.manual_seed(0)
        tokenizer = load_tokenizer(cfg.model)
        self.model = build_model(cfg.model, tokenizer, cfg.adapter)
        set_trainable(self.model, stage, [b.spec.name for b in self.model.branches])
        self.model.train()
        self.optimizer = torch.optim.AdamW(param_groups(self.model, stage.optim), lr=stage.optim.lr, foreach=True)
        self.data = build_stage_data(cfg, stage, tokenizer, [b.spec for b in self.model.branches])
        self.epoch, self.batches = 0, iter(self.data.loader(0, 0))

    def next_batch(self) -> dict:
        batch = next(self.batches, None)
        if batch is None:  # a new epoch
            self.epoch += 1
            self.batches = iter(self.data.loader(self.epoch, 0))
            batch = next(self.batches)
        return batch

    def step(self, batch: dict | None = None) -> None:
        loss = self.model(batch if batch is not None else self.next_batch())["loss"]
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def tiny_rows(methods: list[str], rounds: int, block: int, cache_dir: str, overrides: list[str]) -> dict:
    runs = {m: Run(m, None, overrides) for m in methods}
    runs.update({f"{m}+cache": Run(m, cache_dir, overrides) for m in ("lora", "moka") if m in methods})
    seconds = {name: [] for name in runs}
    for round_ in range(rounds + 1):  # round 0 warms up
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(block):
                run.step()  # loading the batch (decoding or reading the cache) is part of the step
            if round_:
                seconds[name].append((time.perf_counter() - start) / block)
    rows = {}
    for name, run in runs.items():
        batch = run.next_batch()
        rows[name] = {
            "steps_per_s": 1 / statistics.median(seconds[name]),
            "saved_activation_mb": saved_activation_mb(lambda run=run, batch=batch: run.step(batch)),
            "trainable": sum(p.numel() for p in run.model.parameters() if p.requires_grad),
        }
    for name, row in rows.items():
        lora = rows["lora+cache" if name.endswith("+cache") else "lora"]
        row["time_vs_lora"] = lora["steps_per_s"] / row["steps_per_s"]
        row["activations_vs_lora"] = row["saved_activation_mb"] / lora["saved_activation_mb"]
    return rows


def data_wait_rows(workers: list[int], steps: int, overrides: list[str]) -> dict:
    """Data-wait share of MokA's step with each number of loader workers (one run after the other)."""
    rows = {}
    for count in workers:
        run = Run("moka", None, [*overrides, f"data.num_workers={count}"])
        run.step()  # the first batch starts the workers: not a steady-state step
        waited = total = 0.0
        for _ in range(steps):
            start = time.perf_counter()
            batch = run.next_batch()
            arrived = time.perf_counter()
            run.step(batch)
            waited, total = waited + arrived - start, total + time.perf_counter() - start
        rows[f"workers={count}"] = {
            "data_wait_s": waited / steps,
            "step_s": total / steps,
            "data_wait_share": waited / total,
        }
    return rows


def fill_cache(cache_dir: Path, overrides: list[str]) -> str:
    from moka_train.config import load_config
    from moka_train.train.feature_cache_writer import fill_feature_cache

    fill_feature_cache(load_config(RECIPE, [*overrides, f"data.feature_cache={cache_dir}"]))
    return str(cache_dir)


def main() -> None:
    from moka_train.adapters import available_methods
    from moka_train.testing.workspace import PAPER_MEDIA_OVERRIDES, build_tiny_workspace

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--block", type=int, default=3, help="steps per run per round")
    parser.add_argument("--methods", nargs="*", default=None, help="default: every registered method")
    parser.add_argument("--no-llama", dest="llama", action="store_false", help="skip the LLaMA-shaped rows")
    parser.add_argument("--workers", type=int, default=2, help="loader workers of the data-wait rows")
    parser.add_argument("--data-wait", action="store_true", help="only the data-wait rows (0 and --workers workers)")
    parser.add_argument(
        "--paper-media",
        action="store_true",
        help="real-sized encoders (CLIP ViT-B/16, BEATs base) and 10 s clips sampled as in the "
        "paper (10 frames at 224 px, 10 audio segments); the LLM stays tiny",
    )
    args = parser.parse_args()
    methods = args.methods or available_methods()
    if "lora" not in methods:
        methods = ["lora", *methods]  # the reference of every ratio
    overrides = PAPER_MEDIA_OVERRIDES if args.paper_media else []
    result = {
        "bench": "train",
        "media": "paper" if args.paper_media else "tiny",
        "machine": f"{platform.machine()} threads={torch.get_num_threads()} cores={os.cpu_count()}",
    }
    with tempfile.TemporaryDirectory() as tmp:
        steps = (args.rounds + 2) * args.block  # enough clips that no run needs a second epoch
        os.environ["DEMO_ROOT"] = str(
            build_tiny_workspace(Path(tmp) / "ws", seed=0, num_av=4 * (steps + 2), paper_media=args.paper_media)
        )
        result["load_average_before"] = list(os.getloadavg())
        result["data_wait"] = data_wait_rows([0, args.workers], steps, overrides)
        result["load_average_after"] = list(os.getloadavg())
        if not args.data_wait:
            rows = tiny_rows(methods, args.rounds, args.block, fill_cache(Path(tmp) / "cache", overrides), overrides)
            result["feature_cache_speedup"] = {
                m: rows[f"{m}+cache"]["steps_per_s"] / rows[m]["steps_per_s"]
                for m in ("lora", "moka")
                if f"{m}+cache" in rows
            }
            result["tiny_recipe"] = rows
    if args.llama and not args.data_wait:
        shape = gpu_args(LLAMA_SHAPE + ["--steps", str(args.rounds), "--warmup", "1"])
        llama = train_rows(shape, flops={"model": 0, "hardware": 0, "six_n": 0}, peak=None)
        packed = train_rows(shape, flops={"model": 0, "hardware": 0, "six_n": 0}, peak=None, packed=True)
        result["llama_shape"] = {
            "shape": {k: getattr(shape, k) for k in ("hidden", "layers", "batch", "seq")},
            "moka_vs_lora_step": llama["moka"]["step_s"] / llama["lora"]["step_s"],
            "moka_vs_lora_packed_step": packed["moka"]["step_s"] / packed["lora"]["step_s"],
            "rows": llama,
            "packed_rows": packed,
        }
    print(json.dumps(rounded(result)))


if __name__ == "__main__":
    main()
