"""`train.global_batch_size`: the gradient accumulation a world size needs to reach it.

The official AVT recipe runs 8 GPUs × micro-batch 4 × accumulation 1 = 32 samples per optimizer
step; pinning 32 keeps the step count and the learning-rate curve on 1 GPU (accumulation 8).
"""

from __future__ import annotations

from .load import ConfigError
from .schema import RunConfig, TrainConfig


def grad_accum_for(train: TrainConfig, world_size: int) -> int:
    """train.grad_accum, or global / (world size × micro-batch) when train.global_batch_size is set.

    Refused by name when the global batch does not divide, or when a train.grad_accum other than
    1 (the default) gives another global batch."""
    size = train.global_batch_size
    if size is None:
        return train.grad_accum
    micro = train.micro_batch_size
    per_step = world_size * micro
    if size % per_step:
        raise ConfigError(
            f"train.global_batch_size={size} does not divide by world size {world_size} × "
            f"train.micro_batch_size {micro} = {per_step}: choose a global batch that is a multiple of "
            f"{per_step}, another micro-batch or GPU count, or train.global_batch_size=null to use train.grad_accum"
        )
    derived = size // per_step
    if train.grad_accum not in (1, derived):
        raise ConfigError(
            f"train.global_batch_size={size} and train.grad_accum={train.grad_accum} disagree: world size "
            f"{world_size} × train.micro_batch_size {micro} needs grad_accum {derived} for that global batch; "
            "leave train.grad_accum at 1 (it is derived) or set train.global_batch_size=null"
        )
    return derived


def with_world_size(cfg: RunConfig, world_size: int) -> RunConfig:
    """``cfg`` with train.grad_accum as this world size needs it (the value every stage trains with)."""
    grad_accum = grad_accum_for(cfg.train, world_size)
    return cfg.model_copy(update={"train": cfg.train.model_copy(update={"grad_accum": grad_accum})})
