"""Uni-modal LoRA: each modality's tokens through their own LoRA (A_m and B_m)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ...modality import TEXT_NAME
from ..base import AdapterLinear
from ..registry import register
from ..routing import Routing
from ..spec import AdapterSpec


def check_one_expert_per_modality(spec: AdapterSpec) -> None:
    """The routed LoRAs have exactly one adapter per modality (text included)."""
    if spec.num_experts not in (0, spec.num_adapters):
        raise ValueError(
            f"adapter method {spec.method!r} has one expert per modality ({spec.num_adapters}); "
            f"num_experts={spec.num_experts} does not fit"
        )


@register("unimodal_lora")
class UnimodalLoRALinear(AdapterLinear):
    """h_t = W0 x_t + s B_{m(t)} A_{m(t)} x_t: no parameter is shared across modalities.

    Query text and padding use the text LoRA; decoding (routing None) is text-only. Both GEMMs
    run over all slots at once: the other slots' rank vectors are zeroed before the up GEMM.
    Merge folds the text LoRA (exact for text tokens).
    """

    foldable = True

    def build(self) -> None:
        check_one_expert_per_modality(self.spec)
        rank = self.spec.rank
        self.lora_A = self.named_params(rank, self.in_features)  # adapter index i -> adapter_names[i]
        self.lora_B = self.named_params(self.out_features, rank)

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        if routing is None:
            return (x @ self.lora_A[TEXT_NAME].t() * self.scale) @ self.lora_B[TEXT_NAME].t()
        batch, tokens, _ = x.shape
        A = self.joined(self.lora_A)  # [M*r, d], adapter-major
        B = self.joined(self.lora_B, dim=1)  # [o, M*r], adapter-major
        a = (x @ A.t() * self.scale).view(batch, tokens, len(self.adapter_names), -1)  # [B, T, M, r]
        own = F.one_hot(routing.adapter_index, len(self.adapter_names)).to(a.dtype)  # [B, T, M]
        return (a * own[..., None]).view(batch, tokens, -1) @ B.t()  # [B, T, M*r] -> [B, T, o]

    def text_delta_weight(self) -> Tensor:
        return self.scale * self.lora_B[TEXT_NAME] @ self.lora_A[TEXT_NAME]
