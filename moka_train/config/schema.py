"""RunConfig: the whole validated, frozen configuration of one run.

Each section lives in its own module under ``sections/``; this file only assembles them.
"""

from pydantic import Field, model_validator

from .sections.adapter import AdapterConfig
from .sections.base import Section
from .sections.data import DataConfig
from .sections.model import EncoderConfig, ModalityConfig, ModelConfig, ProjectorConfig
from .sections.train import DeepSpeedConfig, OptimConfig, StageConfig, TrainConfig, check_stages

__all__ = [
    "AdapterConfig",
    "DataConfig",
    "DeepSpeedConfig",
    "EncoderConfig",
    "ModalityConfig",
    "ModelConfig",
    "OptimConfig",
    "ProjectorConfig",
    "RunConfig",
    "StageConfig",
    "TrainConfig",
]


class RunConfig(Section):
    output_dir: str = "runs/default"
    resume: str | None = None  # "auto" or a checkpoint directory
    overwrite: bool = False  # start afresh where output_dir holds a run: deletes its checkpoints and exports
    resume_allow_changes: tuple[str, ...] = ()  # identity keys resume may find changed, e.g. [data.seed]
    model: ModelConfig
    adapter: AdapterConfig = AdapterConfig()
    data: DataConfig
    train: TrainConfig = TrainConfig()
    stages: tuple[StageConfig, ...] = Field(default=(), description="run in order")

    @property
    def precision(self) -> str:
        """DeepSpeed's precision: train.deepspeed.precision, or the one of model.dtype."""
        return self.train.deepspeed.precision or PRECISION_OF_DTYPE[self.model.dtype]

    @model_validator(mode="after")
    def _check_precision(self) -> "RunConfig":
        # DeepSpeed casts the whole module (frozen encoders included) to its precision; evaluation,
        # serving and the feature cache run in model.dtype. One dtype for both keeps the features
        # (and the LLM's numerics) of training and evaluation the same.
        given, wanted = self.train.deepspeed.precision, PRECISION_OF_DTYPE[self.model.dtype]
        if given is not None and given != wanted:
            raise ValueError(
                f"model.dtype={self.model.dtype} and train.deepspeed.precision={given} disagree: "
                f"training would run the model (encoders included) in {given}, evaluation in "
                f"{self.model.dtype}. Set train.deepspeed.precision: {wanted} (or leave it out), "
                f"or model.dtype: {DTYPE_OF_PRECISION[given]}"
            )
        return self

    @model_validator(mode="after")
    def _check_stage_plans(self) -> "RunConfig":
        check_stages(self.stages, self.model, self.data.media_kinds, self.precision, self.data.feature_cache)
        return self

    @model_validator(mode="after")
    def _check_feature_cache(self) -> "RunConfig":
        unfrozen = [
            f"model.modalities[{i}].encoder.frozen" for i, m in enumerate(self.model.modalities) if not m.encoder.frozen
        ]
        if unfrozen and self.data.feature_cache is not None:
            raise ValueError(
                f"{', '.join(unfrozen)}: false, but data.feature_cache={self.data.feature_cache!r}: "
                "cached features are those of the untrained encoder, stale after the first step. "
                "Unset data.feature_cache, or keep the encoder frozen"
            )
        return self


PRECISION_OF_DTYPE = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}
DTYPE_OF_PRECISION = {v: k for k, v in PRECISION_OF_DTYPE.items()}
