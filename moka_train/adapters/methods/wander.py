"""Wander (Guo et al., AAAI 2025): low-rank *sequence* tensor fusion of any number of modalities,
as a token-routed Linear wrapper (``adapter.method: wander``). See ``docs/wander.md``.

The paper, for modalities m = 1..M with token sequences X_m [T_m, D]:
    Z_m = GELU(X_m W_m + b_m)                                   down-projection to width r
    Y   = Σ_{k=1..R} ⊙_m ( A_m^{(k)ᵀ} [Z_m, 1] B_m^{(k)} )       CP fusion of rank R, Y [L, D]
with a token factor A_m^{(k)} [T_m, L] (T_m tokens onto L fused tokens) and a feature factor
B_m^{(k)} [r+1, D]; the appended 1 keeps the lower-order (fewer-modality) terms. Y is the
contraction of ⊗_m vec([Z_m, 1]) with the tensor W = Σ_k ⊗_m (A_m^{(k)} ⊗ B_m^{(k)}), never formed.

Our adaptation to one causal token sequence per sample (modality slots: 0 = text, i = i-th
non-text modality; the text slot's *sequence* is the query text, id 1, never the answer):
  1. Down-projection per token with its own slot: z_t = GELU(W_{μ(t)} x_t + b_{μ(t)}) [r];
     z̃_t = [z_t; 1]; u_t^{(k)} = B_{μ(t)}^{(k)ᵀ} z̃_t [p] with fused width p = r.
  2. Sequence summaries, the paper's exact linear token factor, over *prompt* tokens only
     (query text for slot 0, the media tokens for slot m): F_{b,m}^{(k)} = Σ_{j∈P_{b,m}}
     A_m^{(k)}[j-th token of m] ⊗ u_j^{(k)}  [L, p]. A_m is indexed by the token's rank within
     its modality in the sample, capacity ``max_tokens`` (the paper's fixed T_m; more tokens is
     an error, fewer are masked instead of padded into the fusion). A slot absent from a sample is
     the constant term alone: F = 1_L ⊗ B_m^{(k)ᵀ} e_{r+1} (the outer product with [0; 1]).
  3. Token-level fusion: token t stands for its own modality (the paper's Y has L tokens, not
     one per input token, so the own sequence factor is replaced by the token itself, spread on
     the L fused slots by a learned, position-free weight c_{μ}^{(k)} [L]; positions of answer or
     generated tokens have no token-factor row):
        f_t = Σ_k Σ_l c_{μ(t),k,l} u_t^{(k)} ⊙ ⊙_{m≠μ(t)} F_{b,m,l}^{(k)}          [p]
     i.e. a true CP sum *after* the element-wise product over modalities (docs/wander.md, pitfall 2).
  4. Up-projection and skip: h_t = W0 x_t + U f_t, U [o, p] zero at init (identity at init);
     every other factor starts random, so no product is stuck at zero (pitfall 1).
Causality / no label leak: the only cross-token inputs are query-text and media tokens, fixed at
prefill; answer and generated tokens (text, id 0) never feed any F. Decoding (routing None):
generated tokens are text, f_t = Σ_k u_t^{(k)} ⊙ H_{b,0}^{(k)} with H the per-layer context kept
(detached) in the routing slot by the last prefill — what a full recompute computes at that
position. The next ``slot.set()`` drops it; the layer holds none.

Placement: the paper puts one adapter after every intermediate layer of a large model; its
analogue here is the layer's last sub-layer writing to the residual stream, so the default
targets are ``WANDER_DEFAULT_TARGETS = ("down_proj",)`` (set ``adapter.targets`` to it; any
target list works). spec.rank / alpha / temperature / xattn_weight are not used.

Options (``spec.options``), with defaults: width r = 8 (down-projection width, also the fused
width p), cp_rank R = 4, token_rank L = 4 (fused tokens per token factor), max_tokens = 1024
(token-factor capacity per slot; an int or a {slot name: int} dict, "text" = query text).
Parameters per layer, M = 1 + #non-text modalities, d in, o out, Tm the capacities:
    M (r d + r)  +  M R (r+1) r  +  Σ_m Tm R L  +  M R L  +  o r
Not mergeable into W0: the text path has a GELU and depends on the prompt's media.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ...modality import FIRST_MEDIA, QUERY, TEXT_NAME
from ..base import AdapterLinear
from ..registry import register
from ..routing import Routing

WANDER_DEFAULT_TARGETS = ("down_proj",)
DEFAULTS = {"width": 8, "cp_rank": 4, "token_rank": 4, "max_tokens": 1024}


def wander_options(options: dict) -> dict:
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown wander options {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    return {**DEFAULTS, **options}


def exclusive_products(factors: Tensor) -> Tensor:
    """out[:, μ] = Π_{m≠μ} factors[:, m]; factors [B, M, ...] -> [B, M, ...]. A loop over the few
    modalities, not samples; no division, so a zero factor is handled exactly."""
    count = factors.shape[1]
    ones = torch.ones_like(factors[:, 0])
    return torch.stack(
        [factors[:, [m for m in range(count) if m != mu]].prod(dim=1) if count > 1 else ones for mu in range(count)],
        dim=1,
    )


def segment_starts(segment_ids: Tensor) -> Tensor:
    """[B, T]: the position of the first token of each token's sample (samples are contiguous)."""
    positions = torch.arange(segment_ids.shape[1], device=segment_ids.device).expand_as(segment_ids)
    starts = torch.ones_like(segment_ids, dtype=torch.bool)
    starts[:, 1:] = segment_ids[:, 1:] != segment_ids[:, :-1]
    return torch.where(starts, positions, torch.zeros_like(positions)).cummax(dim=1).values


def local_segments(segment_ids: Tensor) -> Tensor:
    """[B, T]: each token's sample counted from 0 within its row (padding is a sample of its own)."""
    starts = torch.ones_like(segment_ids, dtype=torch.bool)
    starts[:, 1:] = segment_ids[:, 1:] != segment_ids[:, :-1]
    return starts.long().cumsum(dim=1) - 1


@register("wander")
class WanderLinear(AdapterLinear):
    """h_t = W0 x_t + U Σ_k Σ_l c_{μ(t),k,l} u_t^{(k)} ⊙ ⊙_{m≠μ(t)} F_{b,m,l}^{(k)} (module docstring)."""

    zero_init = ("up",)

    def build(self) -> None:
        if not self.spec.modalities:
            raise ValueError("wander fuses text with at least one non-text modality; spec.modalities is empty")
        opts = wander_options(self.spec.options)
        self.width, self.cp_rank, self.token_rank = int(opts["width"]), int(opts["cp_rank"]), int(opts["token_rank"])
        caps = opts["max_tokens"]
        self.capacity = tuple(int(caps[n] if isinstance(caps, dict) else caps) for n in self.adapter_names)
        r, R, L = self.width, self.cp_rank, self.token_rank
        self.down_weight = self.named_params(r, self.in_features)  # W_m
        self.down_bias = self.named_params(r)  # b_m
        self.feature_factor = self.named_params(R, r + 1, r)  # B_m^{(k)}: [z; 1] -> fused width p = r
        self.token_factor = nn.ParameterDict()  # A_m^{(k)}: one row per token of capacity
        for name, cap in zip(self.adapter_names, self.capacity):
            self.token_factor[name] = self.new_param(cap, R, L)
        self.slot_weight = self.named_params(R, L)  # c_m^{(k)}: the own token on the L fused slots
        self.up = self.new_param(self.out_features, r)  # U, zero at init

    def reset_adapter_parameters(self) -> None:
        r = self.width
        with torch.no_grad():
            for name, capacity in zip(self.adapter_names, self.capacity):
                nn.init.kaiming_uniform_(self.down_weight[name], a=math.sqrt(5))  # as LoRA's A
                bound = 1.0 / math.sqrt(self.in_features)  # nn.Linear's bias init
                nn.init.uniform_(self.down_bias[name], -bound, bound)
                # unit-scale factors keep each modality's term O(1), so no product starts near 0
                nn.init.normal_(self.feature_factor[name], std=1.0 / math.sqrt(r + 1))
                nn.init.normal_(self.token_factor[name], std=1.0 / math.sqrt(capacity))
                nn.init.ones_(self.slot_weight[name])
            nn.init.zeros_(self.up)

    # --- pieces ----------------------------------------------------------------------------------
    def stacked(self, params: nn.ParameterDict) -> Tensor:
        return self.joined(params, stack=True)  # [M, ...] in adapter order

    def own_features(self, x: Tensor, adapter_index: Tensor | None) -> Tensor:
        """u_t^{(k)} = B_{μ(t)}^{(k)ᵀ} [GELU(W_{μ(t)} x_t + b_{μ(t)}); 1]: [B, T, R, p]."""
        batch, tokens, _ = x.shape
        r, R, M = self.width, self.cp_rank, len(self.adapter_names)
        if adapter_index is None:  # decoding: text only
            z = F.gelu(x @ self.down_weight[TEXT_NAME].t() + self.down_bias[TEXT_NAME])  # [B, T, r]
            z1 = torch.cat([z, z.new_ones(batch, tokens, 1)], dim=-1)  # [B, T, r+1]
            return torch.einsum("bti,kip->btkp", z1, self.feature_factor[TEXT_NAME])  # [B, T, R, p]
        W = self.stacked(self.down_weight).reshape(M * r, -1)  # [M*r, d], adapter-major
        z_all = F.gelu(x @ W.t() + self.stacked(self.down_bias).reshape(M * r))  # [B, T, M*r]
        idx = adapter_index[:, :, None, None].expand(batch, tokens, 1, r)  # [B, T, 1, r]
        z = z_all.view(batch, tokens, M, r).gather(2, idx).squeeze(2)  # [B, T, r]
        z1 = torch.cat([z, z.new_ones(batch, tokens, 1)], dim=-1)  # [B, T, r+1]
        u_all = torch.einsum("bti,mkip->btmkp", z1, self.stacked(self.feature_factor))  # [B, T, M, R, p]
        idx = adapter_index[:, :, None, None, None].expand(batch, tokens, 1, R, r)  # [B, T, 1, R, p]
        return u_all.gather(2, idx).squeeze(2)  # [B, T, R, p]

    def prompt_membership(self, routing: Routing) -> tuple[Tensor, Tensor]:
        """(one-hot [B, T, M] of prompt tokens by slot, each token's rank within its slot in its
        sample [B, T]); packed rows restart the count at every sample."""
        ids = routing.modality_ids
        prompt = (ids == QUERY) | (ids >= FIRST_MEDIA)  # answer / system text / padding never feed F
        onehot = F.one_hot(routing.adapter_index, len(self.adapter_names)) * prompt[..., None]  # [B, T, M]
        before = onehot.cumsum(dim=1) - onehot  # [B, T, M] prompt tokens of each slot before t in the row
        if routing.packed:  # minus those before the token's sample starts
            before = before - before.gather(1, segment_starts(routing.segment_ids)[..., None].expand_as(before))
        rank = (before * onehot).sum(-1)  # [B, T], 0 off the prompt
        # one host sync per routing and capacity, not per call (the routing keeps the verdict)
        key = ("wander_capacity", self.adapter_names, self.capacity)
        routing.cached(key, lambda: self.check_capacity(before, onehot))
        return onehot, rank

    def check_capacity(self, before: Tensor, onehot: Tensor) -> bool:
        counts = ((before + 1) * onehot).amax(dim=(0, 1)).tolist()  # [M] most tokens of a slot in a sample
        over = [(n, c, cap) for n, c, cap in zip(self.adapter_names, counts, self.capacity) if c > cap]
        if over:
            raise ValueError(
                f"wander token factor too small (slot, tokens, max_tokens): {over}; raise adapter.options.max_tokens"
            )
        return True

    def context(self, u: Tensor, routing: Routing) -> Tensor:
        """H_{b,μ}^{(k)} = Σ_l c_{μ,k,l} ⊙_{m≠μ} F_{b,m,l}^{(k)}: [B, S, M, R, p], S samples per row
        (1 without packing: then the row is the sample)."""
        onehot, rank = self.prompt_membership(routing)
        offsets = torch.tensor([0, *self.capacity[:-1]], device=u.device).cumsum(0)  # [M]
        table = self.joined(self.token_factor)  # [ΣTm, R, L]
        rows = table[offsets[routing.adapter_index] + rank]  # [B, T, R, L]: A_{μ(t)}[rank of t]
        member = onehot.to(u.dtype)[:, :, None]  # [B, T, 1, M]
        if routing.packed:  # [B, T, S, M]: the token's sample and slot
            member = F.one_hot(local_segments(routing.segment_ids)).to(u.dtype)[..., None] * member
        summary = torch.einsum("btsm,btkl,btkp->bsmklp", member, rows, u)  # F [B, S, M, R, L, p]
        present = member.sum(dim=1) > 0  # [B, S, M]
        constant = self.stacked(self.feature_factor)[:, :, -1]  # [M, R, p]: B_m^{(k)ᵀ} [0; 1]
        summary = torch.where(present[..., None, None, None], summary, constant[:, :, None, :])
        others = exclusive_products(summary.flatten(0, 1)).unflatten(0, summary.shape[:2])  # [B, S, M, R, L, p]
        return torch.einsum("mkl,bsmklp->bsmkp", self.stacked(self.slot_weight), others)  # [B, S, M, R, p]

    # --- AdapterLinear --------------------------------------------------------------------------
    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        if routing is None:
            (context,) = self.slot.decode_state(self, x.shape[0])  # H_{b,text} [B, R, p] of the prefill
            u = self.own_features(x, None)  # [B, T, R, p]
            fused = (u * context[:, None].to(u.dtype)).sum(dim=2)  # [B, T, p]
            return fused @ self.up.t()
        u = self.own_features(x, routing.adapter_index)  # [B, T, R, p]
        ctx = self.context(u, routing)  # [B, S, M, R, p]
        if not routing.packed:  # what generated (text) tokens need (packed rows are training only)
            self.slot.keep_for_decode(self, ctx[:, 0, 0])
        batch, tokens = routing.adapter_index.shape
        own = (
            routing.adapter_index
            if not routing.packed
            else local_segments(routing.segment_ids) * ctx.shape[2] + routing.adapter_index
        )  # (sample, slot) of t
        idx = own[:, :, None, None].expand(batch, tokens, *ctx.shape[3:])  # [B, T, R, p]
        fused = (u * ctx.flatten(1, 2).gather(1, idx)).sum(dim=2)  # [B, T, p]: Σ_k u ⊙ H_{b,μ(t)}
        return fused @ self.up.t()  # [B, T, o]

    def text_delta_weight(self) -> Tensor:
        raise NotImplementedError(
            "wander cannot be merged into W0: its text path has a GELU and depends on "
            "the prompt's media through the fusion"
        )
