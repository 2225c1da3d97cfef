"""`train:` and `stages:` — optimisation, DeepSpeed, checkpointing and the stage list."""

from typing import Any, Literal

from pydantic import Field, field_validator

from .base import Section


class OptimConfig(Section):
    lr: float = Field(1e-4, gt=0)
    projector_lr: float | None = None  # defaults to lr
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_ratio: float = Field(0.03, ge=0, le=1)
    schedule: Literal["cosine", "constant"] = "cosine"
    grad_clip: float = Field(1.0, ge=0)


class StageConfig(Section):
    @field_validator("init_from", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return (value,) if isinstance(value, str) else value

    name: str
    kind: Literal["pretrain_projector", "moka_finetune"]
    train_file: str | None = None  # overrides data.train_file for this stage
    root: str | None = None  # overrides data.root for this stage (caption sets live elsewhere)
    template: Literal["chat", "llama2", "llama3", "qwen2", "plain"] | None = None
    eval_file: str | None = None  # held-out loss of this stage (defaults to data.eval_file)
    # whose projector (and unfrozen encoder) trains, all when empty; moka_finetune trains every adapter too
    modalities: tuple[str, ...] = ()
    # exports this stage loads strictly before training (a name or a list): the name of an earlier
    # stage, or the path of an export directory (one written by `moka-train import-official`)
    init_from: tuple[str, ...] = ()
    epochs: float = Field(1.0, gt=0)
    optim: OptimConfig = OptimConfig()


class DeepSpeedConfig(Section):
    zero_stage: Literal[0, 1, 2, 3] = 2
    offload_optimizer: bool = False
    offload_param: bool = False
    # None: that of model.dtype; given, it must agree with model.dtype (RunConfig checks)
    precision: Literal["bf16", "fp16", "fp32"] | None = None
    config_file: str | None = None  # a DeepSpeed JSON whose keys override the generated ones
    extra: dict[str, Any] = {}


class TrainConfig(Section):
    seed: int = 42
    micro_batch_size: int = Field(4, gt=0)
    grad_accum: int = Field(1, gt=0)
    max_steps: int | None = Field(None, gt=0)  # caps every stage (smoke tests, the demo)
    # end this invocation after N optimizer steps, with a checkpoint (time-limited cluster jobs:
    # the next job continues with resume=auto; the schedule is that of the full run)
    stop_after: int | None = Field(None, gt=0)
    log_every: int = Field(10, gt=0)
    save_every: int = Field(500, gt=0)
    keep_last: int = Field(2, gt=0)
    max_nonfinite_in_row: int = Field(10, gt=0)
    # sample: each micro-batch's token mean, averaged over micro-batches and ranks (what the official
    # MokA trainer, HF Trainer 4.37, does); token: every answer token of an optimizer step weighs the same
    loss_reduction: Literal["sample", "token"] = "sample"
    eval_every: int | None = Field(None, gt=0)  # held-out loss every N optimizer steps (and at the end)
    eval_max_batches: int | None = Field(None, gt=0)  # cap the held-out pass (None: the whole eval file)
    wandb_mode: Literal["offline", "online", "disabled"] = "offline"
    deepspeed: DeepSpeedConfig = DeepSpeedConfig()
