"""HydraLoRA (Tian et al., 2024): one shared A, N B heads mixed by a per-token router."""

from __future__ import annotations

from torch import Tensor

from ..base import AdapterLinear, SoftmaxRouted
from ..registry import register
from ..routing import Routing
from .multi_lora import expert_names


@register("hydra_lora")
class HydraLoRALinear(SoftmaxRouted, AdapterLinear):
    """h_t = W0 x_t + Σ_i ω_i(x_t) B_i (s·A x_t),  ω(x_t) = softmax(W_g x_t), W_g [N, d].

    Form: the published asymmetric structure, dense softmax router (no top-k) without bias on
    the clean layer input (the official code draws the shared A's dropout anew for every head),
    Kaiming-initialised like A; every B_i = 0 so the layer starts as W0.
    Per-token and causal. The router makes ΔW token-dependent, so there is no exact merge.
    """

    drops_own_input = True  # the router reads the clean input; each head its own dropout mask

    def build(self) -> None:
        self.head_order = expert_names(self.spec.experts)  # explicit order, not the dict's
        rank = self.spec.rank
        self.lora_A = self.new_param(rank, self.in_features)
        self.lora_B = self.named_params(self.out_features, rank, names=self.head_order)
        self.router = self.new_param(self.spec.experts, self.in_features)

    def stacked_B(self) -> Tensor:
        return self.joined(self.lora_B, dim=1, names=self.head_order)  # [o, N*r], head-major

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        batch, tokens, _ = x.shape
        dropped = self.dropped_per_expert(x, self.spec.experts)  # [B, T, N, d] or None
        if dropped is None:
            a = (x @ self.lora_A.t() * self.scale)[:, :, None, :]  # [B, T, 1, r], one for every head
        else:
            a = dropped @ self.lora_A.t() * self.scale  # [B, T, N, r]: head i sees its own mask
        mixed = self.gates(x)[..., None] * a  # [B, T, N, r]: head i gets ω_i · a_i (clean input)
        return mixed.view(batch, tokens, -1) @ self.stacked_B().t()  # [B, T, N*r] -> [B, T, o]

    def text_delta_weight(self) -> Tensor:
        raise NotImplementedError(
            "hydra_lora cannot be merged into W0: its per-token router makes ΔW depend on the input; serve it unmerged"
        )
