"""``build_projector``: the projector of a modality. How many tokens it emits is
``ProjectorConfig.output_tokens`` (config), so the data side can size placeholders without it."""

from __future__ import annotations

from torch import nn

from moka_train.config.sections.model import ProjectorConfig

from .mlp import MLPProjector
from .qformer import QFormerProjector


def build_projector(cfg: ProjectorConfig, in_dim: int, out_dim: int) -> nn.Module:
    """Map encoder features of width ``in_dim`` to ``out_dim`` (the LLM hidden size)."""
    if cfg.type == "mlp":
        return MLPProjector(in_dim, out_dim)
    if cfg.type == "qformer":
        return QFormerProjector(
            in_dim,
            out_dim,
            num_queries=cfg.num_queries,
            num_layers=cfg.num_layers,
            hidden_size=cfg.hidden_size,
            num_heads=cfg.num_heads,
            per_frame=cfg.per_frame,
        )
    raise ValueError(f"unknown projector type {cfg.type!r}; choose one of mlp, qformer")
