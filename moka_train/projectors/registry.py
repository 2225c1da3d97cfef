"""``build_projector`` and ``num_output_tokens``: one place that knows each projector's token count."""

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


def num_output_tokens(cfg: ProjectorConfig, frames: int = 1, encoder_tokens: int | None = None) -> int:
    """LLM tokens one sample's media becomes: what its placeholder expands to.

    Q-Former: ``num_queries`` per frame/segment (or in all, when not per frame). MLP: one token per
    encoder token, so it needs ``encoder_tokens`` (the encoder's ``num_tokens()``).
    """
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if cfg.type == "qformer":
        return cfg.num_queries * (frames if cfg.per_frame else 1)
    if encoder_tokens is None:
        raise ValueError("an mlp projector emits one token per encoder token: pass encoder_tokens")
    return frames * encoder_tokens
