"""MokA's interaction variants: naive mean (Table 4), learned rank-space projections (App. B),
and an extra attention between two non-text modalities (App. E)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..functional import gather_rows, inverse_temperature, masked_softmax_mix, scatter_add_rows
from ..registry import register
from ..routing import Routing, packed_positions
from .moka import MokaLinear

PROJECTIONS = ("q", "k", "v")


@register("moka_naive")
class MokaNaiveLinear(MokaLinear):
    """ "Naive interaction": a'_t = a_t + λ · mean_{j∈Q_b} a_j for non-text t (text unchanged).

    The uniform mapping of the sample's query-text rank vectors onto every non-text token (the
    attention weights all equal 1/|Q_b|); no query text gives a' = a.
    """

    def interact(self, a: Tensor, routing: Routing) -> Tensor:
        if routing.nontext_pos.shape[1] == 0 or routing.query_pos.shape[1] == 0:
            return a
        if routing.packed:  # each non-text token averages its own sample's query text
            allowed = routing.same_sample(routing.nontext_pos, routing.query_pos, routing.query_valid)  # [B, N, Q]
            count = allowed.sum(dim=2, keepdim=True).clamp(min=1).to(a.dtype)  # [B, N, 1]
            update = (allowed.to(a.dtype) @ gather_rows(a, routing.query_pos)) / count  # [B, N, r]
            return scatter_add_rows(a, routing.nontext_pos, routing.nontext_valid, self.spec.xattn_weight * update)
        keys = gather_rows(a, routing.query_pos) * routing.query_valid[:, :, None].to(a.dtype)  # [B, Q, r]
        count = routing.query_valid.sum(dim=1).clamp(min=1).to(a.dtype)  # [B]
        mean = keys.sum(dim=1, keepdim=True) / count[:, None, None]  # [B, 1, r]
        update = mean.expand(-1, routing.nontext_pos.shape[1], -1)  # [B, N, r]
        return scatter_add_rows(a, routing.nontext_pos, routing.nontext_valid, self.spec.xattn_weight * update)


@register("moka_proj")
class MokaProjLinear(MokaLinear):
    """MokA with learned W_q, W_k, W_v ∈ R^{r×r} in rank space (App. B): for non-text t,
    a'_t = a_t + λ Σ_{j∈Q_b} softmax_j((W_q a_t)·(W_k a_j) / τ) W_v a_j.

    The three projections start as the identity, so a fresh layer computes exactly MokA (and,
    with B = 0, exactly W0); τ is MokA's (``spec.temperature``).
    """

    def build(self) -> None:
        super().build()
        rank = self.spec.rank
        self.xattn_proj = self.named_params(rank, rank, names=PROJECTIONS)

    def reset_adapter_parameters(self) -> None:
        super().reset_adapter_parameters()
        with torch.no_grad():
            for name in PROJECTIONS:
                self.xattn_proj[name].copy_(torch.eye(self.spec.rank))

    def interact(self, a: Tensor, routing: Routing) -> Tensor:
        if routing.nontext_pos.shape[1] == 0 or routing.query_pos.shape[1] == 0:
            return a
        # packed rows: [B, N, Q], each non-text token sees its own sample's query text only
        key_valid = (
            routing.same_sample(routing.nontext_pos, routing.query_pos, routing.query_valid)
            if routing.packed
            else routing.query_valid
        )
        inv_tau = inverse_temperature(self.spec.temperature, self.spec.rank, self.scale, key_valid)
        text = gather_rows(a, routing.query_pos)  # [B, Q, r]
        queries = gather_rows(a, routing.nontext_pos) @ self.xattn_proj["q"].t()  # [B, N, r]
        keys = text @ self.xattn_proj["k"].t()  # [B, Q, r]
        values = text @ self.xattn_proj["v"].t()  # [B, Q, r]
        logits = (queries.float() @ keys.float().transpose(1, 2)) * inv_tau  # [B, N, Q]
        mixed = masked_softmax_mix(logits, values, key_valid)  # [B, N, r]
        return scatter_add_rows(a, routing.nontext_pos, routing.nontext_valid, self.spec.xattn_weight * mixed)


@register("moka_av")
class MokaAVLinear(MokaLinear):
    """MokA plus attention between two non-text modalities (App. E). With P the query modality
    (``options["av_query"]``, default the first non-text modality) and K the key modality
    (``options["av_key"]``, default the first other one), for t ∈ P:
    a'_t = a_t + λ TextAttn_t(a) + λ_av Σ_{j∈K_b} softmax_j(a_t·a_j / τ) a_j,
    both attentions computed from the same (unmixed) a, in parallel; other tokens as in MokA.
    λ_av = ``options["av_weight"]`` (default λ), τ as in MokA (``num_query``: √|K_b|).
    Media attend media only, both inside the prompt: no answer token is ever a key.
    """

    def build(self) -> None:
        super().build()
        media = self.spec.modalities
        options = self.spec.options
        query = options.get("av_query", media[0] if media else None)
        others = [m for m in media if m != query]
        key = options.get("av_key", others[0] if others else None)
        if query not in media or key not in media or key == query:
            raise ValueError(
                f"moka_av needs two different non-text modalities among {media}: av_query={query!r}, av_key={key!r}"
            )
        self.av_query_index = self.adapter_names.index(query)
        self.av_key_index = self.adapter_names.index(key)
        self.av_weight = float(options.get("av_weight", self.spec.xattn_weight))

    def interact(self, a: Tensor, routing: Routing) -> Tensor:
        mixed = super().interact(a, routing)
        q_pos, q_valid = packed_positions(routing.adapter_index == self.av_query_index)  # [B, P]
        k_pos, k_valid = packed_positions(routing.adapter_index == self.av_key_index)  # [B, K]
        if q_pos.shape[1] == 0 or k_pos.shape[1] == 0:
            return mixed
        if routing.packed:  # [B, P, K]: the key modality's tokens of the query token's own sample
            k_valid = routing.same_sample(q_pos, k_pos, k_valid)
        inv_tau = inverse_temperature(self.spec.temperature, self.spec.rank, self.scale, k_valid)
        queries, keys = gather_rows(a, q_pos), gather_rows(a, k_pos)  # [B, P, r], [B, K, r]
        logits = (queries.float() @ keys.float().transpose(1, 2)) * inv_tau  # [B, P, K]
        av = masked_softmax_mix(logits, keys, k_valid)  # [B, P, r]
        return scatter_add_rows(mixed, q_pos, q_valid, self.av_weight * av)
