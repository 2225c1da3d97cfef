"""`train:` and `stages:` — optimisation, DeepSpeed, checkpointing and the stage list."""

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .base import Section
from .model import ModelConfig, StageMedia, with_stage_media


class OptimConfig(Section):
    lr: float = Field(1e-4, gt=0)
    projector_lr: float | None = None  # defaults to lr
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_ratio: float = Field(0.03, ge=0, le=1)
    # cosine: linear warmup, cosine to 0 (HF's; the VT recipe); constant: lr after the warmup;
    # warmup_decay: log warmup, linear to 0 (the AVT DeepSpeed JSON's WarmupDecayLR, train/engine.py)
    schedule: Literal["cosine", "constant", "warmup_decay"] = "cosine"  # or warmup_decay (DeepSpeed WarmupDecayLR)
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
    # per modality: this stage's frames / windows / sampling (e.g. the official pretraining plan);
    # data loading, placeholder expansion, the model and the feature cache all follow it
    media: dict[str, StageMedia] = {}  # modality name -> frames, segment_seconds, sampling, accepts for this stage
    # the official stage 1 trains in fp32 (pretrain_visual.sh --bf16 False): the whole model, the
    # frozen LLM included, is built in this precision for the stage
    precision: Literal["fp32", "bf16", "fp16"] | None = None  # this stage's precision (None: the run's)
    # role renames when loading init_from exports: {model role: export role}, e.g. {projector.image:
    # projector.video}; given, only these roles load (each must be found), the rest stay as built
    init_roles: dict[str, str] = {}  # {role of this model: role in the init_from export}; only these load


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
    # samples per optimizer step on all GPUs together; given, grad_accum = global / (world size ×
    # micro_batch_size), derived at train start (config/batch.py); grad_accum then stays 1 or agrees
    global_batch_size: int | None = Field(None, gt=0)  # samples per optimizer step; grad_accum derived
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

    @model_validator(mode="after")
    def _check_global_batch(self) -> "TrainConfig":
        """What no world size can fix is refused at load; the rest when the world size is known."""
        size, per_rank = self.global_batch_size, self.micro_batch_size * self.grad_accum
        if size is not None and size % per_rank:
            raise ValueError(
                f"train.global_batch_size={size} is not a multiple of train.micro_batch_size "
                f"{self.micro_batch_size} × train.grad_accum {self.grad_accum} = {per_rank} on any GPU count; "
                "leave train.grad_accum at 1 (then it is derived) or set train.global_batch_size=null"
            )
        return self


DTYPE_OF_STAGE_PRECISION = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def stage_model(model: ModelConfig, stage: StageConfig, index: int) -> ModelConfig:
    """The model config one stage builds: its media overrides applied, model.dtype its precision."""
    out = with_stage_media(model, stage.media, f"stages[{index}]")
    if stage.precision is not None:
        out = out.model_copy(update={"dtype": DTYPE_OF_STAGE_PRECISION[stage.precision]})
    return out


def check_stages(
    stages: tuple[StageConfig, ...], model: ModelConfig, media_kinds: dict, precision: str, cache: str | None = None
) -> None:
    """Every stage's plan builds; accepted record keys are images; a last fine-tuning stage (whose
    export evaluation and serving load with model.modalities and model.dtype) keeps the model's plan."""
    for i, stage in enumerate(stages):
        _check_init_roles(stage, i, [m.name for m in model.modalities])
        if cache is not None and stage.precision not in (None, precision):
            raise ValueError(
                f"stages[{i}].precision={stage.precision} but data.feature_cache={cache!r} holds features "
                f"encoded in model.dtype ({precision}), not the stage's: unset one of them"
            )
        for m in stage_model(model, stage, i).modalities:
            wrong = [k for k in m.accepts if media_kinds.get(k) != "image"]
            if wrong:
                raise ValueError(
                    f"stages[{i}].media.{m.name}.accepts {wrong}: only record keys whose data.media_kinds "
                    f"kind is image can be read as one frame (data.media_kinds: {dict(media_kinds)})"
                )
    if not stages or stages[-1].kind != "moka_finetune":  # a recipe of pretraining stages only is not evaluated
        return
    last, where = stages[-1], f"stages[{len(stages) - 1}] ({stages[-1].name})"
    if last.media:
        raise ValueError(
            f"{where}.media: the last stage's export is evaluated and served with model.modalities; put "
            "its plan there and override only earlier stages"
        )
    if last.precision is not None and last.precision != precision:
        raise ValueError(
            f"{where}.precision={last.precision}: the last stage's export is evaluated in model.dtype "
            f"({precision}); set model.dtype / train.deepspeed.precision instead"
        )


def _check_init_roles(stage: StageConfig, index: int, names: list[str]) -> None:
    """init_roles maps roles of this model (projector.<modality>, encoder.<modality>) to roles of
    the export (same form, any modality name)."""
    ours = {f"{kind}.{n}" for kind in ("projector", "encoder") for n in names}
    for role, export_role in stage.init_roles.items():
        kind, _, name = export_role.partition(".")
        if role not in ours or kind not in ("projector", "encoder") or not name:
            raise ValueError(
                f"stages[{index}].init_roles {role}: {export_role}: map a role of this model "
                f"({', '.join(sorted(ours))}) to a projector.<name> / encoder.<name> role of the export"
            )
    if stage.init_roles and not stage.init_from:
        raise ValueError(f"stages[{index}].init_roles given without init_from: name the export(s) to load")
