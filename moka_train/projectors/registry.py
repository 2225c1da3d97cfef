"""``build_projector``: the projector of a modality. How many tokens it emits is
``ProjectorConfig.output_tokens`` (config), so the data side can size placeholders without it.

``PROJECTORS`` maps ``projector.type`` to a builder ``(cfg, in_dim, out_dim) -> module``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from moka_train.config.sections.model import ProjectorConfig

from ..utils.registry import Registry
from .mlp import MLPProjector
from .qformer import QFormerProjector

PROJECTORS: Registry[Callable[[ProjectorConfig, int, int], nn.Module]] = Registry("projector", key="projector.type")


@PROJECTORS.register("mlp")
def _mlp(cfg: ProjectorConfig, in_dim: int, out_dim: int) -> nn.Module:
    return MLPProjector(in_dim, out_dim)


@PROJECTORS.register("qformer")
def _qformer(cfg: ProjectorConfig, in_dim: int, out_dim: int) -> nn.Module:
    return QFormerProjector(
        in_dim,
        out_dim,
        num_queries=cfg.num_queries,
        num_layers=cfg.num_layers,
        hidden_size=cfg.hidden_size,
        num_heads=cfg.num_heads,
        per_frame=cfg.per_frame,
    )


def build_projector(cfg: ProjectorConfig, in_dim: int, out_dim: int, key: str = "projector") -> nn.Module:
    """Map encoder features of width ``in_dim`` to ``out_dim`` (the LLM hidden size). ``key`` is
    the config location used in errors, e.g. ``model.modalities[0].projector``."""
    return PROJECTORS.get(cfg.type, key=f"{key}.type")(cfg, in_dim, out_dim)
