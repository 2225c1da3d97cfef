"""Projectors from encoder features to the LLM embedding width: LLaVA MLP and BLIP-2 Q-Former."""

from .base import WidthMismatchError, check_width
from .registry import build_projector

__all__ = ["WidthMismatchError", "build_projector", "check_width"]
