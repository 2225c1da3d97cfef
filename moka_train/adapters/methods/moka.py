"""MokA (DESIGN §3): modality-specific A's, text-guided cross-attention in rank space, one B."""

from __future__ import annotations

import torch
from torch import Tensor

from ...modality import TEXT_NAME
from ..base import AdapterLinear
from ..functional import (
    AttentionPlan,
    adapter_projections,
    attention_plan,
    inverse_temperature,
    routed_down,
    text_guided_attention,
)
from ..registry import register
from ..routing import Routing


@register("moka")
class MokaLinear(AdapterLinear):
    """h_t = W0 x_t + B a'_t with a_t = s·A_{m(t)} x_t and, for non-text tokens,
    a'_t = a_t + λ Σ_{j∈Q_b} softmax_j(a_t·a_j / τ) a_j over the sample's query-text tokens
    (in packed rows, Q_b is the query text of the token's own sample).

    ``lora_A`` is a ParameterDict keyed by modality name ("text" first, then config order), so
    slot i of the routing is the i-th entry. Decoding (routing None) uses A_text only.
    """

    foldable = True
    cross_attention = True

    def build(self) -> None:
        self.lora_A = self.named_params(self.spec.rank, self.in_features)  # adapter index i -> adapter_names[i]
        self.lora_B = self.new_param(self.out_features, self.spec.rank)

    def down(self, x: Tensor, routing: Routing | None) -> Tensor:
        """a [B, T, r]: every token through its modality's A, in one GEMM."""
        if routing is None:
            return x @ self.lora_A[TEXT_NAME].t() * self.scale
        return routed_down(x, self.stacked_A(), routing.adapter_gather_index(self.spec.rank), self.scale)

    def stacked_A(self) -> Tensor:
        return self.joined(self.lora_A)  # [M*r, d], adapter-major

    def plan(self, routing: Routing, dtype: torch.dtype) -> AttentionPlan:
        """The attention's indices and masks: built by the first layer, shared by the others.
        Packed rows: a non-text token's keys are its own sample's query-text tokens only."""
        spec = self.spec
        key = ("moka_plan", spec.rank, spec.temperature, self.scale, spec.xattn_weight, dtype)
        return routing.cached(key, lambda: self._build_plan(routing, dtype))

    def _build_plan(self, routing: Routing, dtype: torch.dtype) -> AttentionPlan:
        spec = self.spec
        allowed = (
            routing.same_sample(routing.nontext_pos, routing.query_pos, routing.query_valid) if routing.packed else None
        )  # [B, N, Q]
        inv_tau = inverse_temperature(
            spec.temperature, spec.rank, self.scale, routing.query_valid if allowed is None else allowed
        )
        return attention_plan(
            routing.nontext_pos,
            routing.nontext_valid,
            routing.query_pos,
            routing.query_valid,
            spec.rank,
            spec.xattn_weight,
            inv_tau,
            dtype,
            allowed,
        )

    def interact(self, a: Tensor, routing: Routing) -> Tensor:
        return text_guided_attention(a, self.plan(routing, a.dtype))

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        a = self.down(x, routing)  # [B, T, r]
        if routing is not None and self.cross_attention:
            a = self.interact(a, routing)
        return a @ self.lora_B.t()  # [B, T, o]

    def folded_prefill_delta(self, x: Tensor, routing: Routing) -> Tensor:
        # the one GEMM of down() already holds A_text x for every token: subtract it in rank space
        rank = self.spec.rank
        a_all = adapter_projections(x, self.stacked_A(), rank)  # [B, T, M, r]
        a = a_all.gather(2, routing.adapter_gather_index(rank)).squeeze(2) * self.scale
        if self.cross_attention:
            a = self.interact(a, routing)
        if routing.active is not None:
            a = a * routing.active[..., None].to(a.dtype)
        return (a - a_all[:, :, 0] * self.scale) @ self.lora_B.t()

    def text_delta_weight(self) -> Tensor:
        return self.scale * self.lora_B @ self.lora_A[TEXT_NAME]


@register("moka_no_xattn")
class MokaNoCrossAttentionLinear(MokaLinear):
    """MokA without the cross-attention (paper Table 5): modality A's and one shared B."""

    cross_attention = False
