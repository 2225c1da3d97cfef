"""`model:` — the LLM backbone and, per non-text modality, its encoder and projector."""

from typing import Literal

from pydantic import Field

from .base import Section


class EncoderConfig(Section):
    type: Literal["clip_open_clip", "clip_hf", "beats", "whisper"]
    path: str  # local checkpoint file or directory; never a hub id
    model_name: str | None = None  # open_clip architecture name (e.g. ViT-L-14)
    layer: int = -2  # hidden layer whose patch tokens are used (CLIP: penultimate)
    frozen: bool = True


class ProjectorConfig(Section):
    type: Literal["mlp", "qformer"] = "qformer"
    num_queries: int = Field(32, gt=0)  # Q-Former learnable queries per frame/segment
    num_layers: int = Field(2, gt=0)
    hidden_size: int = Field(768, gt=0)  # Q-Former width (BERT-base in the paper)
    num_heads: int = Field(12, gt=0)
    per_frame: bool = True  # video/audio: project each frame/segment separately


class ModalityConfig(Section):
    name: str
    placeholder: str  # e.g. "<video>"; expanded to the projector's token count
    encoder: EncoderConfig
    projector: ProjectorConfig = ProjectorConfig()
    frames: int = Field(1, gt=0)  # video frames / audio segments per sample (1 for images)
    segment_seconds: float = Field(1.0, gt=0)  # audio segment length


class ModelConfig(Section):
    llm_path: str  # local directory in from_pretrained format
    tokenizer_path: str | None = None  # defaults to llm_path
    dtype: Literal["float32", "bfloat16", "float16"] = "bfloat16"
    modalities: tuple[ModalityConfig, ...] = ()
    gradient_checkpointing: bool = False
