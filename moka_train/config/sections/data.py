"""`data:` — where samples come from and how they are rendered into token ids."""

from typing import Literal

from pydantic import Field

from .base import Section


class DataConfig(Section):
    root: str  # media paths in the JSONL resolve inside this directory only
    train_file: str | None = None  # JSONL, one sample per line (DESIGN §5)
    eval_file: str | None = None
    template: Literal["llama2", "llama3", "qwen2", "plain"] = "llama3"
    system_prompt: str | None = "You are a helpful assistant."
    max_length: int = Field(2048, gt=0)
    multi_turn: Literal["joint", "split"] = "joint"
    overlength: Literal["drop", "fail"] = "drop"
    bad_sample_policy: Literal["skip", "fail"] = "skip"
    max_bad_fraction: float = Field(0.05, ge=0.0, le=1.0)
    num_workers: int = Field(0, ge=0)
    video_frames: int = Field(10, gt=0)
    image_size: int = Field(224, gt=0)
    sample_rate: int = 16000
