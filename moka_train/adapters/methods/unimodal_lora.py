"""Uni-modal LoRA: each modality's tokens through their own LoRA (A_m and B_m)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..base import AdapterLinear
from ..registry import register
from ..routing import Routing

TEXT = "text"


def adapter_names(spec) -> tuple[str, ...]:
    """Adapter slot i -> name: "text" (query text and padding included), then config order."""
    if spec.num_experts not in (0, spec.num_adapters):
        raise ValueError(
            f"adapter method {spec.method!r} has one expert per modality ({spec.num_adapters}); "
            f"num_experts={spec.num_experts} does not fit"
        )
    return (TEXT,) + spec.modalities


@register("unimodal_lora")
class UnimodalLoRALinear(AdapterLinear):
    """h_t = W0 x_t + s B_{m(t)} A_{m(t)} x_t: no parameter is shared across modalities.

    Query text and padding use the text LoRA; decoding (routing None) is text-only. Both GEMMs
    run over all slots at once: the other slots' rank vectors are zeroed before the up GEMM.
    Merge folds the text LoRA (exact for text tokens).
    """

    foldable = True

    def build(self) -> None:
        self.adapter_names = adapter_names(self.spec)  # adapter index i -> adapter_names[i]
        rank = self.spec.rank
        self.lora_A = nn.ParameterDict([(n, self.new_param(rank, self.in_features)) for n in self.adapter_names])
        self.lora_B = nn.ParameterDict([(n, self.new_param(self.out_features, rank)) for n in self.adapter_names])

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        if routing is None:
            return (x @ self.lora_A[TEXT].t() * self.scale) @ self.lora_B[TEXT].t()
        batch, tokens, _ = x.shape
        A = torch.cat([self.lora_A[n] for n in self.adapter_names], dim=0)  # [M*r, d], adapter-major
        B = torch.cat([self.lora_B[n] for n in self.adapter_names], dim=1)  # [o, M*r], adapter-major
        a = (x @ A.t() * self.scale).view(batch, tokens, len(self.adapter_names), -1)  # [B, T, M, r]
        own = F.one_hot(routing.adapter_index, len(self.adapter_names)).to(a.dtype)  # [B, T, M]
        return (a * own[..., None]).view(batch, tokens, -1) @ B.t()  # [B, T, M*r] -> [B, T, o]

    def text_delta_weight(self) -> Tensor:
        return self.scale * self.lora_B[TEXT] @ self.lora_A[TEXT]
