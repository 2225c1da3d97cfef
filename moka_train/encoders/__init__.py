"""Frozen media encoders loaded from local checkpoints: CLIP (HF, open_clip), BEATs, Whisper."""

from .base import CheckpointKeyError, Encoder, MissingCheckpointError
from .registry import build_encoder

__all__ = ["CheckpointKeyError", "Encoder", "MissingCheckpointError", "build_encoder"]
