"""Q-Former projector (BLIP-2 style, as in the MokA recipes): LayerNorm on the encoder features,
``N`` learnable queries cross-attending to them through transformers' ``Blip2QFormerModel`` (no
text input), then Linear -> GELU -> Linear to the LLM width.

Per-frame mode folds frames into the batch, so every frame/segment gets its own ``N`` tokens and
frames never see each other; otherwise the queries attend over all frames' tokens at once.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import Blip2QFormerConfig, Blip2QFormerModel

from .base import as_frames


def qformer_config(in_dim: int, hidden_size: int = 768, num_layers: int = 2, num_heads: int = 12) -> Blip2QFormerConfig:
    """BERT-base-like Q-Former with cross-attention in every layer (cross_attention_frequency=1)."""
    if hidden_size % num_heads:
        raise ValueError(f"Q-Former hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
    return Blip2QFormerConfig(
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=4 * hidden_size,
        cross_attention_frequency=1,
        encoder_hidden_size=in_dim,
        use_qformer_text_input=False,
    )


class QFormerProjector(nn.Module):
    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        num_queries: int = 32,
        num_layers: int = 2,
        hidden_size: int = 768,
        num_heads: int = 12,
        per_frame: bool = True,
    ):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.num_queries, self.per_frame = num_queries, per_frame
        config = qformer_config(in_dim, hidden_size, num_layers, num_heads)
        self.norm = nn.LayerNorm(in_dim)
        self.qformer = Blip2QFormerModel(config)
        # random queries, BERT's initialiser range, as BLIP-2 and the official MokA code do
        self.query_tokens = nn.Parameter(torch.randn(1, num_queries, hidden_size) * config.initializer_range)
        self.proj = nn.Sequential(nn.Linear(hidden_size, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))

    def num_tokens(self, frames: int, encoder_tokens: int | None = None) -> int:
        return self.num_queries * (frames if self.per_frame else 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``[B, L, D]`` or ``[B, F, L, D]`` -> ``[B, F * N, out_dim]`` per frame (frame-major),
        or ``[B, N, out_dim]`` over all frames."""
        x = as_frames(features, self.in_dim, "qformer")
        b, f, n, d = x.shape  # n: encoder tokens per frame
        # per frame: frames become batch rows; else one row attends over every frame's tokens
        x = x.reshape(b * f, n, d) if self.per_frame else x.reshape(b, f * n, d)  # [B*F, L, D] | [B, F*L, D]
        x = self.norm(x)
        queries = self.query_tokens.expand(x.shape[0], -1, -1)  # [rows, N, H]
        out = self.qformer(query_embeds=queries, encoder_hidden_states=x).last_hidden_state  # [rows, N, H]
        out = self.proj(out.to(self.proj[0].weight.dtype))  # [rows, N, out_dim]
        return out.reshape(b, -1, self.out_dim)  # [B, F*N | N, out_dim]
