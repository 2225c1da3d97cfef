"""Pure adapter kernels. Shapes: B batch, T tokens, d in-features, o out-features, r rank,
M adapter slots (text + non-text modalities), N non-text tokens, Q query-text tokens."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


def lora_delta(x: Tensor, A: Tensor, B: Tensor, scale: float) -> Tensor:
    """s · B A x for every token. x [..., d], A [r, d], B [o, r] -> [..., o]."""
    return (x @ A.t() * scale) @ B.t()


def routed_down(x: Tensor, A_stack: Tensor, slot_gather: Tensor, scale: float) -> Tensor:
    """a_t = s · A_{m(t)} x_t with one GEMM for all slots, then a per-token gather.

    x [B, T, d], A_stack [M*r, d] (slot-major), slot_gather [B, T, 1, r] (the token's slot,
    ``Routing.adapter_gather_index``) -> [B, T, r].
    """
    return adapter_projections(x, A_stack, slot_gather.shape[-1]).gather(2, slot_gather).squeeze(2) * scale


def adapter_projections(x: Tensor, A_stack: Tensor, rank: int) -> Tensor:
    """A_i x for every slot i, unscaled: x [B, T, d], A_stack [M*r, d] -> [B, T, M, r]."""
    return (x @ A_stack.t()).view(*x.shape[:2], -1, rank)


def gather_rows(a: Tensor, positions: Tensor) -> Tensor:
    """a [B, T, r] at positions [B, K] -> [B, K, r]."""
    return a.gather(1, positions[:, :, None].expand(-1, -1, a.shape[-1]))


def inverse_temperature(kind: str, rank: int, scale: float, key_valid: Tensor) -> Tensor | float:
    """1/τ for logits computed on *scaled* rank vectors a = s·A x.

    paper:     τ = √r on unscaled A outputs      -> 1 / (s² √r)
    official:  τ = √r on scaled outputs          -> 1 / √r
    num_query: τ = √|Q_b| (first release)        -> [B, 1, 1] for key_valid [B, K] (one sample per
               row), [B, L, 1] for key_valid [B, L, K] (packed rows: the keys of each query's sample)
    """
    if kind == "paper":
        return 1.0 / (scale * scale * math.sqrt(rank))
    if kind == "official":
        return 1.0 / math.sqrt(rank)
    if kind == "num_query":
        count = key_valid.sum(dim=-1).clamp(min=1).to(torch.float32)  # [B] or [B, L]
        return count.rsqrt()[:, None, None] if key_valid.dim() == 2 else count.rsqrt()[:, :, None]
    raise ValueError(f"unknown temperature {kind!r}; choose paper, official or num_query")


def key_mask_bias(key_valid: Tensor) -> Tensor:
    """The one masking rule of every rank-space softmax: a float32 bias, 0 on valid keys and the
    float32 minimum elsewhere, so an invalid key's weight underflows to exactly 0 (adding it to a
    finite logit gives the same float as filling the logit with the minimum)."""
    bias = torch.zeros(key_valid.shape, dtype=torch.float32, device=key_valid.device)
    return bias.masked_fill(~key_valid, torch.finfo(torch.float32).min)


def masked_softmax_mix(logits: Tensor, values: Tensor, key_valid: Tensor) -> Tensor:
    """softmax over valid keys, then mix values; a row with no valid key gives 0 (not NaN).

    logits [B, N, K] (float32), values [B, K, r], key_valid [B, K], or [B, N, K] (packed rows: the
    keys of each query's own sample; or any per-query allowed mask) -> [B, N, r].
    """
    valid = key_valid[:, None, :] if key_valid.dim() == 2 else key_valid  # [B, 1 or N, K]
    weights = torch.softmax(logits + key_mask_bias(valid), dim=-1)
    weights = weights * valid  # rows without keys were uniform over padding: zero them
    return weights.to(values.dtype) @ values  # [B, N, r]


def scatter_add_rows(a: Tensor, positions: Tensor, valid: Tensor, update: Tensor) -> Tensor:
    """a + update at positions (padding entries add nothing). a [B, T, r], update [B, K, r]."""
    update = update * valid[:, :, None].to(update.dtype)  # [B, K, r]
    return a.scatter_add(1, positions[:, :, None].expand(-1, -1, a.shape[-1]), update)


@dataclass(frozen=True)
class AttentionPlan:
    """What MokA's cross-attention needs besides the rank vectors, built once per forward.

    Padding keys get a bias of the dtype's minimum (their softmax weight underflows to 0), and
    the update weight is λ for a real non-text token of a sample that has query text, else 0, so
    a sample without query text gets a' = a (not NaN) with no per-layer masking. In packed rows
    the bias is [B, N, Q]: another sample's query tokens are masked like padding, so they get a
    weight of exactly 0 and a change to them cannot reach this sample.
    """

    nontext_index: Tensor  # [B, N, r] gather/scatter index of the non-text tokens
    query_index: Tensor  # [B, Q, r] gather index of the query-text tokens
    key_bias: Tensor  # [B, 1, Q] float32 ([B, N, Q] in packed rows)
    update_weight: Tensor  # [B, N, 1]
    inv_tau: Tensor | float  # scalar, or [B, 1, 1] (num_query), or [B, N, 1] (num_query, packed rows)

    @property
    def empty(self) -> bool:
        return self.nontext_index.shape[1] == 0 or self.query_index.shape[1] == 0


def attention_plan(
    nontext_pos: Tensor,
    nontext_valid: Tensor,
    query_pos: Tensor,
    query_valid: Tensor,
    rank: int,
    weight: float,
    inv_tau: Tensor | float,
    dtype: torch.dtype,
    allowed: Tensor | None = None,
) -> AttentionPlan:
    """``allowed [B, N, Q]``: packed rows, which query-text keys each non-text token may see."""
    keys_ok = query_valid[:, None, :] if allowed is None else allowed  # [B, 1 or N, Q]
    has_query = keys_ok.any(dim=2)  # [B, 1 or N]
    key_bias = key_mask_bias(keys_ok)
    update_weight = (weight * (nontext_valid & has_query)).to(dtype)[:, :, None]
    return AttentionPlan(
        nontext_pos[:, :, None].expand(-1, -1, rank),
        query_pos[:, :, None].expand(-1, -1, rank),
        key_bias,
        update_weight,
        inv_tau,
    )


def text_guided_attention(a: Tensor, plan: AttentionPlan) -> Tensor:
    """MokA's task-centric cross-attention in rank space (DESIGN §3, step 2).

    Non-text tokens query the sample's query-text tokens: a'_t = a_t + λ Σ_j softmax_j(a_t·a_j/τ) a_j.
    Only N×Q logits are formed, never T×T; eight kernels per layer. a [B, T, r] -> [B, T, r].
    """
    if plan.empty:
        return a
    queries = a.gather(1, plan.nontext_index)  # [B, N, r]
    keys = a.gather(1, plan.query_index)  # [B, Q, r]
    queries, scaled_keys = queries.float(), keys.float()
    if isinstance(plan.inv_tau, Tensor) and plan.inv_tau.shape[1] > 1:  # per query (packed num_query)
        queries = queries * plan.inv_tau
    else:
        scaled_keys = scaled_keys * plan.inv_tau  # τ folded into the keys: [B, 1, 1] or a scalar
    logits = torch.baddbmm(plan.key_bias, queries, scaled_keys.transpose(1, 2))  # [B, N, Q]
    mixed = torch.softmax(logits, dim=-1).to(a.dtype) @ keys  # [B, N, r]
    return a.scatter_add(1, plan.nontext_index, mixed * plan.update_weight)
