"""The BEATs audio transformer (Chen et al. 2022), written for inference as a frozen encoder.

Module and parameter names follow the official checkpoints (``patch_embedding``, ``layer_norm``,
``post_extract_proj``, ``encoder.pos_conv.0.weight_g``, ``encoder.layers.N.self_attn.grep_a``, ...)
so their ``model`` state dicts load strictly. Input is the normalised fbank ``[N, T, 128]``;
output is ``[N, (T // 16) * (128 // 16), 768]`` patch features, time-major.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import BEATsConfig


class WeightNormConv1d(nn.Module):
    """Grouped Conv1d whose weight is ``g * v / ||v||`` with the norm taken over every dim but the
    kernel axis (``weight_norm(dim=2)``), stored as ``weight_g``/``weight_v`` like the checkpoints."""

    def __init__(self, channels: int, kernel: int, groups: int):
        super().__init__()
        self.groups = groups
        self.padding = kernel // 2
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(torch.randn(channels, channels // groups, kernel) * 0.02)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = self.weight_v.pow(2).sum(dim=(0, 1), keepdim=True).sqrt()  # [1, 1, K]
        weight = self.weight_v * (self.weight_g / norm)
        return F.conv1d(x, weight, self.bias, padding=self.padding, groups=self.groups)


def relative_position_buckets(
    length: int, num_buckets: int, max_distance: int, device: torch.device | None = None
) -> torch.Tensor:
    """T5-style bidirectional buckets of ``key - query`` offsets: ``[T, T]`` long.

    Half the buckets per direction; within a half, offsets below a quarter of ``num_buckets`` get
    their own bucket and larger ones share log-spaced buckets up to ``max_distance``.
    """
    pos = torch.arange(length, device=device)
    offset = pos[None, :] - pos[:, None]  # [T, T]: key position minus query position
    half = num_buckets // 2
    buckets = (offset > 0).long() * half
    distance = offset.abs()
    exact = half // 2
    log_scaled = (
        exact
        + (torch.log(distance.clamp(min=1).float() / exact) / math.log(max_distance / exact) * (half - exact)).long()
    )
    log_scaled = log_scaled.clamp(max=half - 1)
    return buckets + torch.where(distance < exact, distance, log_scaled)


class BEATsAttention(nn.Module):
    """Multi-head self-attention with an additive relative position bias, optionally gated per
    query and head as in WavLM (``grep_linear``, ``grep_a``)."""

    def __init__(self, cfg: BEATsConfig, has_bias_table: bool):
        super().__init__()
        dim, self.heads = cfg.encoder_embed_dim, cfg.encoder_attention_heads
        self.head_dim = dim // self.heads
        self.dropout = cfg.attention_dropout
        self.q_proj, self.k_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        if has_bias_table:
            self.relative_attention_bias = nn.Embedding(cfg.num_buckets, self.heads)
        self.gated = cfg.gru_rel_pos
        if self.gated:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, self.heads, 1, 1))

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor | None) -> torch.Tensor:
        n, t, _ = x.shape
        q, k, v = (
            proj(x).view(n, t, self.heads, self.head_dim).transpose(1, 2)  # [N, H, T, d]
            for proj in (self.q_proj, self.k_proj, self.v_proj)
        )
        bias = None
        if position_bias is not None:
            bias = position_bias.unsqueeze(0)  # [1, H, T, T]
            if self.gated:
                bias = self._gate(q) * bias  # [N, H, T, T]
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(attn.transpose(1, 2).reshape(n, t, -1))  # [N, T, D]

    def _gate(self, q: torch.Tensor) -> torch.Tensor:
        """Per-query scale of the bias: ``a * (b * grep_a - 1) + 2`` with a, b in (0, 1),
        each the sigmoid of a sum of 4 projections of the (unscaled) query head."""
        n, h, t, _ = q.shape
        logits = self.grep_linear(q).view(n, h, t, 2, 4).sum(-1)  # [N, H, T, 2]
        gate_a, gate_b = torch.sigmoid(logits).chunk(2, dim=-1)  # [N, H, T, 1] each
        return gate_a * (gate_b * self.grep_a - 1.0) + 2.0


class BEATsLayer(nn.Module):
    """Post-LN transformer block with deep-norm residual scaling (every released BEATs model)."""

    def __init__(self, cfg: BEATsConfig, has_bias_table: bool):
        super().__init__()
        dim = cfg.encoder_embed_dim
        self.self_attn = BEATsAttention(cfg, has_bias_table)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, cfg.encoder_ffn_embed_dim)
        self.fc2 = nn.Linear(cfg.encoder_ffn_embed_dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim)
        # deep norm up-weights the residual branch by (2L)^(1/4) before each post-LN
        self.alpha = math.pow(2 * cfg.encoder_layers, 0.25) if cfg.deep_norm else 1.0
        self.dropout, self.activation_dropout = cfg.dropout, cfg.activation_dropout

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:
        h = F.dropout(F.gelu(self.fc1(x)), self.activation_dropout, self.training)
        return F.dropout(self.fc2(h), self.dropout, self.training)

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor | None) -> torch.Tensor:
        attn = F.dropout(self.self_attn(x, position_bias), self.dropout, self.training)
        x = self.self_attn_layer_norm(x * self.alpha + attn)
        return self.final_layer_norm(x * self.alpha + self._ffn(x))


class BEATsEncoderStack(nn.Module):
    """Convolutional position embedding (``x + GELU(conv(x))``), then the blocks. One bias table
    (layer 0's) serves every block; the checkpoints store that shared table under every layer's name."""

    def __init__(self, cfg: BEATsConfig):
        super().__init__()
        self.cfg = cfg
        # a one-element Sequential keeps the official key prefix ``pos_conv.0.``
        self.pos_conv = nn.Sequential(WeightNormConv1d(cfg.encoder_embed_dim, cfg.conv_pos, cfg.conv_pos_groups))
        # an even kernel with symmetric padding yields one extra frame: drop it to keep the length
        self._trim = 1 if cfg.conv_pos % 2 == 0 else 0
        relative = cfg.relative_position_embedding
        self.layers = nn.ModuleList(
            BEATsLayer(cfg, has_bias_table=relative and i == 0) for i in range(cfg.encoder_layers)
        )
        if relative:
            table = self.layers[0].self_attn.relative_attention_bias
            for layer in self.layers[1:]:
                layer.self_attn.relative_attention_bias = table  # shared module, as in BEATs
        self.layer_norm = nn.LayerNorm(cfg.encoder_embed_dim)

    def _position_bias(self, length: int, device: torch.device) -> torch.Tensor | None:
        if not self.cfg.relative_position_embedding:
            return None
        buckets = relative_position_buckets(length, self.cfg.num_buckets, self.cfg.max_distance, device)
        table = self.layers[0].self_attn.relative_attention_bias
        return table(buckets).permute(2, 0, 1)  # [T, T, H] -> [H, T, T]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.pos_conv(x.transpose(1, 2))  # [N, D, T (+1)]
        if self._trim:
            conv = conv[..., : -self._trim]
        x = x + F.gelu(conv).transpose(1, 2)  # [N, T, D]
        x = self.layer_norm(x)
        x = F.dropout(x, self.cfg.dropout, self.training)
        bias = self._position_bias(x.shape[1], x.device)
        for layer in self.layers:
            x = layer(x, bias)
        return x


class BEATs(nn.Module):
    """Patch embedding of the fbank, LayerNorm, projection to the encoder width, encoder stack."""

    def __init__(self, cfg: BEATsConfig):
        super().__init__()
        if cfg.activation_fn != "gelu":
            raise ValueError(f"BEATs activation_fn {cfg.activation_fn!r} is not supported (only 'gelu')")
        if cfg.layer_norm_first:  # no released BEATs checkpoint is pre-LN; fail rather than guess
            raise ValueError("BEATs cfg layer_norm_first=True (pre-LN) is not supported")
        self.cfg = cfg
        patch = cfg.input_patch_size
        self.patch_embedding = nn.Conv2d(1, cfg.embed_dim, kernel_size=patch, stride=patch, bias=cfg.conv_bias)
        self.layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.post_extract_proj = (
            nn.Linear(cfg.embed_dim, cfg.encoder_embed_dim) if cfg.embed_dim != cfg.encoder_embed_dim else None
        )
        self.encoder = BEATsEncoderStack(cfg)

    def num_patches(self, frames: int, mel_bins: int = 128) -> int:
        patch = self.cfg.input_patch_size
        return (frames // patch) * (mel_bins // patch)

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        x = self.patch_embedding(fbank.unsqueeze(1))  # [N, 1, T, F] -> [N, E, T/p, F/p]
        x = x.flatten(2).transpose(1, 2)  # [N, T/p * F/p, E], time-major like the original
        x = self.layer_norm(x)
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)  # [N, L, D]
        return self.encoder(x)
