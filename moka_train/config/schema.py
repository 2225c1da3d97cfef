"""RunConfig: the whole validated, frozen configuration of one run.

Each section lives in its own module under ``sections/``; this file only assembles them.
"""

from pydantic import Field

from .sections.adapter import AdapterConfig
from .sections.base import Section
from .sections.data import DataConfig
from .sections.model import EncoderConfig, ModalityConfig, ModelConfig, ProjectorConfig
from .sections.train import DeepSpeedConfig, OptimConfig, StageConfig, TrainConfig

__all__ = [
    "AdapterConfig", "DataConfig", "DeepSpeedConfig", "EncoderConfig", "ModalityConfig",
    "ModelConfig", "OptimConfig", "ProjectorConfig", "RunConfig", "StageConfig", "TrainConfig",
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
