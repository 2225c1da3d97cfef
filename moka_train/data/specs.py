"""Modality specs (placeholder, token count, id) derived from the model config."""

from __future__ import annotations

from ..config.sections.model import ModalityConfig, ModelConfig
from ..modality import ModalitySpec, build_modality_specs


def tokens_per_sample(modality: ModalityConfig) -> int:
    """Placeholder copies for one media item: queries x frames for a per-frame projector
    (the official 32 x 10 = 320 video tokens), else the projector's query count."""
    per_item = modality.projector.num_queries
    return per_item * modality.frames if modality.projector.per_frame else per_item


def modality_specs(model: ModelConfig, num_tokens: dict[str, int] | None = None) -> list[ModalitySpec]:
    """Specs in config order; ``num_tokens`` overrides the derived count per modality name
    (e.g. an MLP projector that keeps every patch token)."""
    num_tokens = num_tokens or {}
    return build_modality_specs(
        [(m.name, m.placeholder, num_tokens.get(m.name, tokens_per_sample(m))) for m in model.modalities],
        {m.name: m.sampling_plan() for m in model.modalities},
        {m.name: m.wrap for m in model.modalities},
    )
