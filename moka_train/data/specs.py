"""Modality specs (placeholder, token count, id) derived from the model config."""

from __future__ import annotations

from ..config.sections.model import ModelConfig
from ..modality import ModalitySpec, build_modality_specs


def modality_specs(model: ModelConfig) -> list[ModalitySpec]:
    """Specs in config order, each placeholder expanded to ``ModalityConfig.media_tokens()``: the
    count the model's projector emits (the model checks its encoders agree with the config)."""
    return build_modality_specs(
        [(m.name, m.placeholder, m.media_tokens()) for m in model.modalities],
        {m.name: m.sampling_plan() for m in model.modalities},
        {m.name: m.wrap for m in model.modalities},
        {m.name: m.accepts for m in model.modalities},
    )
