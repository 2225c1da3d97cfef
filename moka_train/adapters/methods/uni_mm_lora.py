"""Uni+MM LoRA: a modality-routed branch (A_m, one B) plus a fully shared LoRA, summed or gated."""

from __future__ import annotations

import torch
from torch import Tensor

from ...modality import TEXT_NAME
from ..base import AdapterLinear
from ..functional import routed_down
from ..registry import register
from ..routing import Routing
from .unimodal_lora import check_one_expert_per_modality


@register("uni_mm_lora")
class UniMMLoRALinear(AdapterLinear):
    """h_t = W0 x_t + s B A_{m(t)} x_t + s B_sh A_sh x_t  (#A = N+1, #B = 2).

    The unimodal branch is MokA without cross-attention (one A per modality, one B); the
    multimodal branch is a plain LoRA every token goes through. Both B's start at 0. Decoding
    (routing None) uses A_text. Merge (text path) is exact: s B A_text + s B_sh A_sh.
    """

    foldable = True

    zero_init = ("lora_B", "shared_B")

    def build(self) -> None:
        check_one_expert_per_modality(self.spec)
        rank = self.spec.rank
        self.lora_A = self.named_params(rank, self.in_features)  # adapter index i -> adapter_names[i]
        self.lora_B = self.new_param(self.out_features, rank)
        self.shared_A = self.new_param(rank, self.in_features)
        self.shared_B = self.new_param(self.out_features, rank)

    def branches(self, x: Tensor, routing: Routing | None) -> tuple[Tensor, Tensor]:
        """(unimodal, shared) deltas, each [B, T, o]."""
        if routing is None:
            a = x @ self.lora_A[TEXT_NAME].t() * self.scale  # [B, T, r]
        else:
            stacked = self.joined(self.lora_A)  # [M*r, d], adapter-major
            a = routed_down(x, stacked, routing.adapter_gather_index(self.spec.rank), self.scale)  # [B, T, r]
        shared = (x @ self.shared_A.t() * self.scale) @ self.shared_B.t()
        return a @ self.lora_B.t(), shared

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        uni, shared = self.branches(x, routing)
        return uni + shared

    def text_delta_weight(self) -> Tensor:
        return self.scale * (self.lora_B @ self.lora_A[TEXT_NAME] + self.shared_B @ self.shared_A)


@register("uni_mm_lora_gate")
class UniMMLoRAGateLinear(UniMMLoRALinear):
    """h_t = W0 x_t + g_t · (s B A_{m(t)} x_t) + (1 - g_t) · (s B_sh A_sh x_t),  g_t = σ(w_g·x_t).

    Form: a scalar sigmoid gate per token from a bias-free linear map w_g [1, d] of the layer
    input (Kaiming-initialised), a convex mix of the two branches. The gate is per token and
    causal. It makes ΔW depend on the input, so there is no exact merge.
    """

    foldable = False

    def build(self) -> None:
        super().build()
        self.gate = self.new_param(1, self.in_features)

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        uni, shared = self.branches(x, routing)
        g = torch.sigmoid((x @ self.gate.t()).float()).to(uni.dtype)  # [B, T, 1]
        return g * uni + (1 - g) * shared

    def text_delta_weight(self) -> Tensor:
        raise NotImplementedError(
            "uni_mm_lora_gate cannot be merged into W0: its per-token gate makes ΔW "
            "depend on the input; serve it unmerged"
        )
