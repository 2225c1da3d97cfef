"""Shared by the projectors: input layout and width checks."""

from __future__ import annotations

import torch


class WidthMismatchError(ValueError):
    """Two components disagree on a feature width; the message names both."""


def check_width(expected: int, got: int, what: str) -> None:
    if expected != got:
        raise WidthMismatchError(f"{what}: expected width {expected}, got {got}")


def as_frames(features: torch.Tensor, in_dim: int, name: str) -> torch.Tensor:
    """Encoder features as ``[B, F, L, D]``: a single image ``[B, L, D]`` is one frame."""
    if features.dim() == 3:
        features = features.unsqueeze(1)  # [B, 1, L, D]
    if features.dim() != 4:
        raise ValueError(f"{name} projector expects [B, L, D] or [B, F, L, D], got {tuple(features.shape)}")
    check_width(in_dim, features.shape[-1], f"{name} projector input (encoder output_dim vs features)")
    return features
