"""LLaVA-style projector: every encoder token mapped on its own by Linear -> GELU -> Linear."""

from __future__ import annotations

import torch
from torch import nn

from .base import as_frames


class MLPProjector(nn.Module):
    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.net = nn.Sequential(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))

    def num_tokens(self, frames: int, encoder_tokens: int) -> int:
        return frames * encoder_tokens

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``[B, L, D]`` or ``[B, F, L, D]`` -> ``[B, F * L, out_dim]`` (frames in order)."""
        x = as_frames(features, self.in_dim, "mlp")
        b, f, n, d = x.shape  # n: tokens per frame
        return self.net(x.reshape(b, f * n, d))  # [B, F*L, out_dim]
