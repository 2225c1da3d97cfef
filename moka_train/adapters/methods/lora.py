"""LoRA: one low-rank update for every token, whatever its modality."""

from __future__ import annotations

from torch import Tensor

from ..base import AdapterLinear
from ..functional import lora_delta
from ..registry import register
from ..routing import Routing


@register("lora")
class LoRALinear(AdapterLinear):
    """h = W0 x + s · B A x;  A [r, d], B [o, r]."""

    foldable = True

    def build(self) -> None:
        self.lora_A = self.new_param(self.spec.rank, self.in_features)
        self.lora_B = self.new_param(self.out_features, self.spec.rank)

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        return lora_delta(x, self.lora_A, self.lora_B, self.scale)

    def text_delta_weight(self) -> Tensor:
        return self.scale * self.lora_B @ self.lora_A
