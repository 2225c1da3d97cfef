"""DoRA: weight-decomposed low-rank adaptation (Liu et al., 2024)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import AdapterLinear
from ..registry import register
from ..routing import Routing


@register("dora")
class DoRALinear(AdapterLinear):
    """h = m ⊙ (W0 + s·B A) x / ||W0 + s·B A||_row + b, for every token whatever its modality.

    Form (peft's and the paper's): one A [r, d], one B [o, r] and a magnitude m [o], one entry
    per output feature (the paper's column norm of W ∈ R^{d×k} is the row norm of torch's [o, d]
    weight). m starts at ||W0||_row and B at 0, so the layer starts exactly as W0. As in §4.3 of
    the paper, the norm is detached (treated as a constant in backward) to save memory; the
    forward value is unaffected. The bias is not rescaled. Merge is exact.
    """

    zero_init = ("lora_B", "magnitude")  # m is then set to ||W0||_row (a vector: no Kaiming fan)

    def build(self) -> None:
        self.lora_A = self.new_param(self.spec.rank, self.in_features)
        self.lora_B = self.new_param(self.out_features, self.spec.rank)
        self.magnitude = self.new_param(self.out_features)

    def reset_adapter_parameters(self) -> None:
        super().reset_adapter_parameters()
        with torch.no_grad():
            # the same expression the forward uses with B = 0, so m / norm is exactly 1
            self.magnitude.copy_(self.weight_norm(self.base_layer.weight))

    @staticmethod
    def weight_norm(weight: Tensor) -> Tensor:
        return torch.linalg.vector_norm(weight, dim=1)  # [o]

    def adapted_weight(self) -> Tensor:
        return self.base_layer.weight + self.scale * self.lora_B @ self.lora_A  # [o, d]

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        # m/||W'|| ⊙ (W0 x + s B A x) - W0 x, written so that B = 0, m = ||W0|| gives exactly 0
        factor = self.magnitude / self.weight_norm(self.adapted_weight()).detach()  # [o]
        base = F.linear(x, self.base_layer.weight)  # W0 x without the bias, [B, T, o]
        lora = (x @ self.lora_A.t() * self.scale) @ self.lora_B.t()  # [B, T, o]
        return (factor - 1) * base + factor * lora

    def text_delta_weight(self) -> Tensor:
        weight = self.adapted_weight()
        return (self.magnitude / self.weight_norm(weight))[:, None] * weight - self.base_layer.weight
