"""LoRAMoE (Dou et al., 2024): N LoRA experts mixed by a per-token softmax router."""

from __future__ import annotations

import torch
from torch import Tensor

from ..base import SoftmaxRouted
from ..registry import register
from ..routing import Routing
from .multi_lora import MultiLoRALinear


@register("lora_moe")
class LoRAMoELinear(SoftmaxRouted, MultiLoRALinear):
    """h_t = W0 x_t + s Σ_i g_i(x_t) B_i A_i x_t,  g(x_t) = softmax(W_r x_t), W_r [N, d].

    Form: dense softmax routing over all N experts (no top-k), the router a bias-free linear
    layer on the clean layer input (dropout only feeds the experts, one mask per expert, as in
    the official LoRAMoE), Kaiming-initialised; B_i = 0 makes the layer start as W0. The
    router sees only its own token, so it is causal. LoRAMoE's localized balancing loss is an
    auxiliary training loss, not part of the layer, and is not implemented here. The router
    makes ΔW token-dependent, so there is no exact merge.
    """

    foldable = False
    drops_own_input = True  # the router reads the clean input; each expert its own dropout mask

    def build(self) -> None:
        super().build()
        self.router = self.new_param(self.spec.experts, self.in_features)

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        batch, tokens, _ = x.shape
        experts, rank = self.spec.experts, self.spec.rank
        dropped = self.dropped_per_expert(x, experts)  # [B, T, N, d] or None
        if dropped is None:
            a = self.expert_down(x).view(batch, tokens, experts, rank)  # [B, T, N, r]
        else:
            A = self.stacked_A().view(experts, rank, -1)  # [N, r, d]
            a = torch.einsum("btnd,nrd->btnr", dropped, A) * self.scale  # [B, T, N, r]
        a = a * self.gates(x)[..., None]  # each expert's rank vector times its gate (clean input)
        return a.reshape(batch, tokens, -1) @ self.stacked_B().t()  # [B, T, N*r] -> [B, T, o]

    def text_delta_weight(self) -> Tensor:
        raise NotImplementedError(
            "lora_moe cannot be merged into W0: its per-token router makes ΔW depend on the input; serve it unmerged"
        )
