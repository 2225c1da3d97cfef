"""What `validate` shows of each stage's optimisation: the LR schedule, and the global batch and
grad_accum on a few GPU counts (train.global_batch_size is resolved per world size at train start).

Step counts are estimates from the train file's record count (a JSONL line per sample): the
sampler's per-modality rounding, bad samples and packing change them a little.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from ..config import ConfigError, RunConfig
from ..config.batch import grad_accum_for
from ..config.schema import StageConfig
from ..train.data import stage_data_config
from ..train.engine import warmup_steps

SCHEDULE_MEANING = {
    "cosine": "linear warmup, then cosine to 0, as HF's cosine",
    "constant": "linear warmup, then the lr",
    "warmup_decay": "log warmup, then linear to 0, as DeepSpeed's WarmupDecayLR in the AVT DeepSpeed JSON",
}


def optimisation_summary(cfg: RunConfig, world_sizes: tuple[int, ...] = (1, 8)) -> dict:
    """{stage name: {"schedule": ..., "<N> GPU(s)": ...}}: the schedule, then one line per world size."""
    return {stage.name: _stage_summary(cfg, stage, world_sizes) for stage in cfg.stages}


def optimisation_lines(cfg: RunConfig, world_sizes: tuple[int, ...] = (1, 8)) -> list[str]:
    """The summary as YAML lines under one key ``schedule_and_batch`` (validate's comments parse as YAML)."""
    summary = {"schedule_and_batch": optimisation_summary(cfg, world_sizes)}
    return yaml.safe_dump(summary, sort_keys=False, allow_unicode=True, width=10**6).splitlines()


def _stage_summary(cfg: RunConfig, stage: StageConfig, world_sizes: tuple[int, ...]) -> dict:
    optim = stage.optim
    out = {
        "schedule": f"{optim.schedule} ({SCHEDULE_MEANING[optim.schedule]}), lr {optim.lr:g}, "
        f"warmup_ratio {optim.warmup_ratio:g}"
    }
    records = _record_count(stage_data_config(cfg, stage).train_file)
    for world in world_sizes:
        out[f"{world} GPU" + ("s" if world > 1 else "")] = _world_line(cfg, stage, world, records)
    return out


def _world_line(cfg: RunConfig, stage: StageConfig, world: int, records: int | None) -> str:
    train = cfg.train
    try:
        grad_accum = grad_accum_for(train, world)
    except ConfigError as err:
        return f"refused ({err})"
    line = (
        f"global batch {world * train.micro_batch_size * grad_accum} = {world} × micro_batch_size "
        f"{train.micro_batch_size} × grad_accum {grad_accum}"
    )
    if records is None:
        return line + f"; warmup ceil({stage.optim.warmup_ratio:g} × steps) (steps unknown, no JSONL train file)"
    batches = math.ceil(records / (world * train.micro_batch_size))  # per rank and epoch
    steps = max(1, math.ceil(batches * stage.epochs / grad_accum))
    steps = min(steps, train.max_steps) if train.max_steps else steps
    return line + f"; ≈{steps} steps from {records} records, warmup {warmup_steps(stage.optim, steps)}"


def _record_count(path: str | None) -> int | None:
    """Non-blank lines of a JSONL file; None when there is none to read."""
    if not path or not path.endswith(".jsonl") or not Path(path).is_file():
        return None
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())
