"""Pure adapter kernels. Shapes: B batch, T tokens, d in-features, o out-features, r rank,
M adapter slots (text + non-text modalities), N non-text tokens, Q query-text tokens."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def lora_delta(x: Tensor, A: Tensor, B: Tensor, scale: float) -> Tensor:
    """s · B A x for every token. x [..., d], A [r, d], B [o, r] -> [..., o]."""
    return (x @ A.t() * scale) @ B.t()


def routed_down(x: Tensor, A_stack: Tensor, slot_index: Tensor, rank: int, scale: float) -> Tensor:
    """a_t = s · A_{m(t)} x_t with one GEMM for all slots, then a per-token gather.

    x [B, T, d], A_stack [M*r, d] (slot-major), slot_index [B, T] -> [B, T, r].
    """
    batch, tokens, _ = x.shape
    a_all = (x @ A_stack.t()).view(batch, tokens, -1, rank)  # [B, T, M, r]
    index = slot_index[:, :, None, None].expand(batch, tokens, 1, rank)  # [B, T, 1, r]
    return a_all.gather(2, index).squeeze(2) * scale  # [B, T, r]


def gather_rows(a: Tensor, positions: Tensor) -> Tensor:
    """a [B, T, r] at positions [B, K] -> [B, K, r]."""
    return a.gather(1, positions[:, :, None].expand(-1, -1, a.shape[-1]))


def inverse_temperature(kind: str, rank: int, scale: float, query_valid: Tensor) -> Tensor | float:
    """1/τ for logits computed on *scaled* rank vectors a = s·A x.

    paper:     τ = √r on unscaled A outputs      -> 1 / (s² √r)
    official:  τ = √r on scaled outputs          -> 1 / √r
    num_query: τ = √|Q_b| (first release)        -> [B, 1, 1]
    """
    if kind == "paper":
        return 1.0 / (scale * scale * math.sqrt(rank))
    if kind == "official":
        return 1.0 / math.sqrt(rank)
    if kind == "num_query":
        count = query_valid.sum(dim=1).clamp(min=1).to(torch.float32)  # [B]
        return count.rsqrt()[:, None, None]  # [B, 1, 1]
    raise ValueError(f"unknown temperature {kind!r}; choose paper, official or num_query")


def masked_softmax_mix(logits: Tensor, values: Tensor, key_valid: Tensor) -> Tensor:
    """softmax over valid keys, then mix values; a row with no valid key gives 0 (not NaN).

    logits [B, N, K] (float32), values [B, K, r], key_valid [B, K] -> [B, N, r].
    """
    valid = key_valid[:, None, :]  # [B, 1, K]
    weights = torch.softmax(logits.masked_fill(~valid, torch.finfo(logits.dtype).min), dim=-1)
    weights = weights * valid  # rows without keys were uniform over padding: zero them
    return weights.to(values.dtype) @ values  # [B, N, r]


def scatter_add_rows(a: Tensor, positions: Tensor, valid: Tensor, update: Tensor) -> Tensor:
    """a + update at positions (padding entries add nothing). a [B, T, r], update [B, K, r]."""
    update = update * valid[:, :, None].to(update.dtype)  # [B, K, r]
    return a.scatter_add(1, positions[:, :, None].expand(-1, -1, a.shape[-1]), update)


def text_guided_attention(a: Tensor, nontext_pos: Tensor, nontext_valid: Tensor, query_pos: Tensor,
                          query_valid: Tensor, weight: float, inv_tau: Tensor | float) -> Tensor:
    """MokA's task-centric cross-attention in rank space (DESIGN §3, step 2).

    Non-text tokens query the sample's query-text tokens: a'_t = a_t + λ Σ_j softmax_j(a_t·a_j/τ) a_j.
    Only N×Q logits are formed, never T×T. a [B, T, r] -> [B, T, r].
    """
    if nontext_pos.shape[1] == 0 or query_pos.shape[1] == 0:
        return a
    queries = gather_rows(a, nontext_pos)  # [B, N, r]
    keys = gather_rows(a, query_pos)  # [B, Q, r]
    logits = (queries.float() @ keys.float().transpose(1, 2)) * inv_tau  # [B, N, Q]
    mixed = masked_softmax_mix(logits, keys, query_valid)  # [B, N, r]
    return scatter_add_rows(a, nontext_pos, nontext_valid, weight * mixed)
