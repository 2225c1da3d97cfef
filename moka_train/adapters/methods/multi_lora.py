"""Multiple LoRA: N LoRA experts, every token through all of them, outputs summed."""

from __future__ import annotations

from torch import Tensor

from ..base import AdapterLinear
from ..registry import register
from ..routing import Routing


def expert_names(count: int) -> tuple[str, ...]:
    """Keys of the expert dicts, in the order the stacked weights use."""
    return tuple(f"e{i}" for i in range(count))


@register("multi_lora")
class MultiLoRALinear(AdapterLinear):
    """h = W0 x + s Σ_i B_i A_i x, i = 1..N (N = spec.experts; one per modality by default).

    No routing: every token uses every expert (the paper's "Multiple LoRA" baseline), so the
    sum is one LoRA of rank N·r computed with two GEMMs. Merge is exact.
    """

    foldable = True

    def build(self) -> None:
        self.expert_order = expert_names(self.spec.experts)  # explicit order, not the dict's
        rank = self.spec.rank
        self.lora_A = self.named_params(rank, self.in_features, names=self.expert_order)
        self.lora_B = self.named_params(self.out_features, rank, names=self.expert_order)

    def stacked_A(self) -> Tensor:
        return self.joined(self.lora_A, names=self.expert_order)  # [N*r, d], expert-major

    def stacked_B(self) -> Tensor:
        return self.joined(self.lora_B, dim=1, names=self.expert_order)  # [o, N*r], expert-major

    def expert_down(self, x: Tensor) -> Tensor:
        """s·A_i x for all experts: [B, T, d] -> [B, T, N*r]."""
        return x @ self.stacked_A().t() * self.scale

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        return self.expert_down(x) @ self.stacked_B().t()  # [B, T, o]

    def text_delta_weight(self) -> Tensor:
        return self.scale * self.stacked_B() @ self.stacked_A()
