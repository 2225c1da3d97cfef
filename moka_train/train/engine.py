"""The DeepSpeed engine of one stage: config generated from ours, AdamW groups, warmup+cosine."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ..config.load import deep_merge
from ..config.schema import PRECISION_OF_DTYPE, OptimConfig, TrainConfig
from .checkpoint_files import install_safe_loader


def deepspeed_config(train: TrainConfig, optim: OptimConfig, model_dtype: str = "float32") -> dict:
    """Our YAML → a DeepSpeed config dict; a JSON file and ``extra`` override generated keys.
    The precision is train.deepspeed.precision, or that of ``model_dtype`` where it is not given."""
    ds = train.deepspeed
    precision = ds.precision or PRECISION_OF_DTYPE[model_dtype]
    zero: dict = {"stage": ds.zero_stage}
    if ds.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": torch.cuda.is_available()}
    if ds.offload_param:
        zero["offload_param"] = {"device": "cpu", "pin_memory": torch.cuda.is_available()}
    config = {
        "train_micro_batch_size_per_gpu": train.micro_batch_size,
        "gradient_accumulation_steps": train.grad_accum,
        "gradient_clipping": optim.grad_clip,
        "zero_optimization": zero,
        "bf16": {"enabled": precision == "bf16"},
        "fp16": {"enabled": precision == "fp16", "initial_scale_power": 16},
        "steps_per_print": 10**9,  # our own progress bar reports
        "wall_clock_breakdown": False,
        "zero_allow_untested_optimizer": True,
    }
    if ds.config_file:
        path = Path(ds.config_file)
        if not path.is_file():
            raise FileNotFoundError(f"train.deepspeed.config_file: {path} not found")
        deep_merge(config, json.loads(path.read_text()))
    deep_merge(config, dict(ds.extra))
    return config


def param_groups(model: torch.nn.Module, optim: OptimConfig) -> list[dict]:
    """Projectors and adapters may learn at different rates; only trainable parameters go in."""
    groups: dict[str, list] = {"projector": [], "other": []}
    for name, param in model.named_parameters():
        if param.requires_grad:
            groups["projector" if name.startswith("projectors.") else "other"].append(param)
    lrs = {"projector": optim.projector_lr or optim.lr, "other": optim.lr}
    return [
        {"params": ps, "lr": lrs[k], "weight_decay": optim.weight_decay, "name": k} for k, ps in groups.items() if ps
    ]


def make_optimizer(groups: list[dict], optim: OptimConfig, offload: bool) -> torch.optim.Optimizer:
    if offload:
        from deepspeed.ops.adam import DeepSpeedCPUAdam

        return DeepSpeedCPUAdam(groups, lr=optim.lr, betas=optim.betas, adamw_mode=True)
    return torch.optim.AdamW(groups, lr=optim.lr, betas=optim.betas)


def warmup_cosine(optimizer: torch.optim.Optimizer, optim: OptimConfig, total_steps: int):
    warmup = math.ceil(optim.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if optim.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def build_engine(
    model: torch.nn.Module, train: TrainConfig, optim: OptimConfig, total_steps: int, model_dtype: str = "float32"
):
    import deepspeed

    config = deepspeed_config(train, optim, model_dtype)
    optimizer = make_optimizer(param_groups(model, optim), optim, train.deepspeed.offload_optimizer)
    scheduler = warmup_cosine(optimizer, optim, total_steps)
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, lr_scheduler=scheduler, config=config)
    install_safe_loader(engine)  # engine.load_checkpoint would otherwise unpickle anything
    return engine
