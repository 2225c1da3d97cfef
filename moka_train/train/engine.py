"""The DeepSpeed engine of one stage: config generated from ours, AdamW groups, the LR schedule."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
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

        from ..utils.jit_ops import CPU_ADAM, announce_op

        announce_op(CPU_ADAM, "train.deepspeed.offload_optimizer")  # a JIT build on first use: say so first
        return DeepSpeedCPUAdam(groups, lr=optim.lr, betas=optim.betas, adamw_mode=True)
    return torch.optim.AdamW(groups, lr=optim.lr, betas=optim.betas)


def warmup_steps(optim: OptimConfig, total_steps: int) -> int:
    """ceil(warmup_ratio × total), as HF's ``get_warmup_steps`` fills DeepSpeed's "auto"."""
    return math.ceil(optim.warmup_ratio * total_steps)


def lr_factor(optim: OptimConfig, total_steps: int) -> Callable[[int], float]:
    """The learning rate of optimizer update ``k`` (0-based) as a multiple of each group's lr."""
    warmup = warmup_steps(optim, total_steps)
    if optim.schedule == "warmup_decay":
        return warmup_decay_factor(warmup, total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if optim.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def warmup_decay_factor(warmup: int, total_steps: int) -> Callable[[int], float]:
    """DeepSpeed's ``WarmupDecayLR`` as the official AVT JSON sets it (``stage2-offload.json``, its
    "auto" values filled by HF: warmup_min_lr 0, warmup_max_lr = lr, total_num_steps = the run's
    steps, warmup_num_steps = ceil(warmup_ratio × total)): log warmup, then linear decay to 0.

    DeepSpeed evaluates its schedule at iteration i = k - 1 for update k: the object starts at
    i = -1 (warmup_min_lr) and steps after each update. Its warmup lasts max(2, W) iterations
    (W = 0 included, which DeepSpeed 0.12.6 of the official runs accepted). DeepSpeed before its
    PR 6597 (October 2024; the official runs used 0.12.6) left the lr untouched until the first
    step, so there update 0 ran at the full lr; here, as the installed DeepSpeed, it runs at 0.
    """
    span = max(2, warmup)

    def factor(step: int) -> float:
        i = step - 1
        if i < 0:
            return 0.0
        if i < span:
            return math.log(i + 1) / math.log(span)
        return max(0.0, (total_steps - i) / max(1.0, total_steps - span))

    return factor


def lr_schedule(optimizer: torch.optim.Optimizer, optim: OptimConfig, total_steps: int):
    """``optim.schedule`` as a LambdaLR, which the DeepSpeed engine steps after every update."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(optim, total_steps))


def build_engine(
    model: torch.nn.Module,
    train: TrainConfig,
    optim: OptimConfig,
    total_steps: int,
    model_dtype: str = "float32",
    node_local: bool = False,
):
    """``node_local``: the output directory is on node-local disks (``utils.dist.shared_output``):
    DeepSpeed then writes the model states on every node, not on global rank 0 alone."""
    import deepspeed

    config = deepspeed_config(train, optim, model_dtype)
    if node_local:
        config.setdefault("checkpoint", {})["use_node_local_storage"] = True
    optimizer = make_optimizer(param_groups(model, optim), optim, train.deepspeed.offload_optimizer)
    scheduler = lr_schedule(optimizer, optim, total_steps)
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, lr_scheduler=scheduler, config=config)
    install_safe_loader(engine)  # engine.load_checkpoint would otherwise unpickle anything
    return engine
