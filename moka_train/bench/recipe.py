"""The training benchmark on the tiny recipe (``scripts/bench_train.py``): every adapter method's
step through the trainer's own model, parameter groups and data, from decoded media or from the
frozen-encoder feature cache, and the loader's data wait with 0 and N workers."""

from __future__ import annotations

import contextlib
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from moka_train.bench.llama import CPU_LLAMA_SHAPE, make_settings
from moka_train.bench.llama_train import saved_activation_mb, train_rows
from moka_train.bench.report import rounded
from moka_train.bench.timing import Schedule, interleaved_times


class Run:
    """One method training on a recipe's last (fine-tuning) stage, from decoded media or the cache."""

    def __init__(self, recipe: Path, method: str, cache_dir: str | None, overrides: list[str]) -> None:
        from moka_train.config import load_config
        from moka_train.data.tokenizer import load_tokenizer
        from moka_train.model.build import build_model
        from moka_train.train.data import build_stage_data
        from moka_train.train.engine import param_groups
        from moka_train.train.stages import set_trainable

        overrides = [*overrides, f"adapter.method={method}"] + (
            [f"data.feature_cache={cache_dir}"] if cache_dir else []
        )
        cfg = load_config(recipe, overrides)
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


def tiny_rows(recipe: Path, methods: list[str], rounds: int, block: int, cache_dir: str, overrides: list[str]) -> dict:
    """Steps/s, saved activations and trainable parameters per run (each method from decoded
    media; lora and moka also from the cache), every run stepped round robin ``block`` steps a
    turn after one warm-up round; the median block. Ratios to the matching LoRA run."""
    runs = {m: Run(recipe, m, None, overrides) for m in methods}
    runs.update({f"{m}+cache": Run(recipe, m, cache_dir, overrides) for m in ("lora", "moka") if m in methods})
    # loading the batch (decoding or reading the cache) is part of the step
    schedule = Schedule(rounds=rounds, warmup=1, block=block, order="round_robin", statistic="median")
    seconds = interleaved_times({name: run.step for name, run in runs.items()}, schedule)
    rows = {}
    for name, run in runs.items():
        batch = run.next_batch()
        rows[name] = {
            "steps_per_s": 1 / seconds[name],
            "saved_activation_mb": saved_activation_mb(lambda run=run, batch=batch: run.step(batch)),
            "trainable": sum(p.numel() for p in run.model.parameters() if p.requires_grad),
        }
    for name, row in rows.items():
        lora = rows["lora+cache" if name.endswith("+cache") else "lora"]
        row["time_vs_lora"] = lora["steps_per_s"] / row["steps_per_s"]
        row["activations_vs_lora"] = row["saved_activation_mb"] / lora["saved_activation_mb"]
    return rows


def data_wait_rows(recipe: Path, workers: list[int], steps: int, overrides: list[str]) -> dict:
    """Data-wait share of MokA's step with each number of loader workers (one run after the other)."""
    rows = {}
    for count in workers:
        run = Run(recipe, "moka", None, [*overrides, f"data.num_workers={count}"])
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


def fill_cache(recipe: Path, cache_dir: Path, overrides: list[str]) -> str:
    """The recipe's feature cache written to ``cache_dir`` (``data_prep/cache_features.py``'s work)."""
    from moka_train.config import load_config
    from moka_train.train.feature_cache_writer import fill_feature_cache

    fill_feature_cache(load_config(recipe, [*overrides, f"data.feature_cache={cache_dir}"]))
    return str(cache_dir)


# LLaMA-shaped training rows with CPU settings: hidden 1024, so that GEMMs dominate as on a real
# backbone and the MokA / LoRA step ratio measures the method rather than Python overhead per layer
LLAMA_INSTANCES = 2  # models per method (train_rows: placement noise ~5 % per build on CPU)
CPU_LLAMA_TRAIN = dict(**CPU_LLAMA_SHAPE, layers=4, batch=2, seq=512, checkpointing=False, methods=("lora", "moka"))
NO_FLOPS = {"model": 0, "hardware": 0, "six_n": 0}


@dataclass(frozen=True)
class TrainBench:
    """What ``scripts/bench_train.py`` measures; ``methods`` always include lora (every ratio's reference)."""

    methods: tuple[str, ...]
    rounds: int = 8
    block: int = 3  # steps per run per round
    workers: int = 2  # loader workers of the data-wait rows
    data_wait_only: bool = False
    paper_media: bool = False  # real-sized encoders and 10 s clips sampled as in the paper
    llama: bool = True  # the LLaMA-shaped rows

    def __post_init__(self) -> None:
        if "lora" not in self.methods:
            object.__setattr__(self, "methods", ("lora", *self.methods))


def train_report(recipe: Path, bench: TrainBench) -> dict:
    """The data-wait rows, then (unless ``data_wait_only``) the tiny-recipe rows with the cache
    speed-up and the LLaMA-shaped rows, on a tiny workspace built in a temporary directory."""
    from moka_train.testing.workspace import PAPER_MEDIA_OVERRIDES, build_tiny_workspace

    overrides = PAPER_MEDIA_OVERRIDES if bench.paper_media else []
    result = {
        "bench": "train",
        "media": "paper" if bench.paper_media else "tiny",
        "machine": f"{platform.machine()} threads={torch.get_num_threads()} cores={os.cpu_count()}",
    }
    with tempfile.TemporaryDirectory() as tmp:
        steps = (bench.rounds + 2) * bench.block  # enough clips that no run needs a second epoch
        root = build_tiny_workspace(Path(tmp) / "ws", seed=0, num_av=4 * (steps + 2), paper_media=bench.paper_media)
        with demo_root(root):
            result["load_average_before"] = list(os.getloadavg())
            result["data_wait"] = data_wait_rows(recipe, [0, bench.workers], steps, overrides)
            result["load_average_after"] = list(os.getloadavg())
            if not bench.data_wait_only:
                cache = fill_cache(recipe, Path(tmp) / "cache", overrides)
                rows = tiny_rows(recipe, list(bench.methods), bench.rounds, bench.block, cache, overrides)
                result["feature_cache_speedup"] = {
                    m: rows[f"{m}+cache"]["steps_per_s"] / rows[m]["steps_per_s"]
                    for m in ("lora", "moka")
                    if f"{m}+cache" in rows
                }
                result["tiny_recipe"] = rows
    if bench.llama and not bench.data_wait_only:
        result["llama_shape"] = llama_shape_rows(bench.rounds)
    return rounded(result)


def llama_shape_rows(rounds: int) -> dict:
    shape = make_settings(**CPU_LLAMA_TRAIN, steps=rounds, warmup=1)
    llama = train_rows(shape, flops=NO_FLOPS, peak=None, instances=LLAMA_INSTANCES)
    packed = train_rows(shape, flops=NO_FLOPS, peak=None, packed=True, instances=LLAMA_INSTANCES)
    return {
        "shape": {k: getattr(shape, k) for k in ("hidden", "layers", "batch", "seq")},
        "moka_vs_lora_step": llama["moka"]["step_s"] / llama["lora"]["step_s"],
        "moka_vs_lora_packed_step": packed["moka"]["step_s"] / packed["lora"]["step_s"],
        "rows": llama,
        "packed_rows": packed,
    }


@contextlib.contextmanager
def demo_root(root: Path):
    """DEMO_ROOT (what the tiny recipe's paths start from) set to ``root`` while inside."""
    before = os.environ.get("DEMO_ROOT")
    os.environ["DEMO_ROOT"] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DEMO_ROOT", None)
        else:
            os.environ["DEMO_ROOT"] = before
