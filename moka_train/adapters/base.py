"""AdapterLinear: holds the frozen ``base_layer`` and adds a method's delta (peft's layer shape).

Every parameter of an AdapterLinear that is not under ``base_layer`` is an adapter parameter:
that one rule drives trainability, the adapter state dict and the parameter counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from ..modality import TEXT_NAME
from .routing import Routing, RoutingSlot
from .spec import AdapterSpec


class AdapterLinear(nn.Module):
    method_name = "abstract"
    # adapter parameters whose name starts with one of these start at zero (so ΔW = 0 at init)
    zero_init: tuple[str, ...] = ("lora_B",)
    # True when delta(x, None) is x ↦ text_delta_weight() x and delta never reads W0, so the text
    # path can be folded into W0 for decoding (see fold_text_path)
    foldable = False
    # True for methods that apply ``self.dropout`` themselves (routers that read the clean input,
    # one dropout mask per expert); the others receive the dropped-out input
    drops_own_input = False

    def __init__(self, base_layer: nn.Linear, spec: AdapterSpec, slot: RoutingSlot) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.spec = spec
        self.slot = slot  # shared holder, not a submodule
        self.in_features = base_layer.in_features
        self.out_features = base_layer.out_features
        self.scale = spec.scale
        self.dropout = nn.Dropout(spec.dropout) if spec.dropout > 0 else nn.Identity()
        self.folded = False  # W0 holds W0 + ΔW_text (decode-time folding)
        self.build()
        self.reset_adapter_parameters()

    # --- what a method defines ---------------------------------------------------------------
    def build(self) -> None:
        """Create the adapter parameters (use :meth:`new_param`)."""
        raise NotImplementedError

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        """The adapter's contribution for x [B, T, d]; routing None = text-only (decoding)."""
        raise NotImplementedError

    def text_delta_weight(self) -> Tensor:
        """ΔW [o, d] of the text path, for merging into W0 (text-only serving)."""
        raise NotImplementedError

    def reset_adapter_parameters(self) -> None:
        """Default init: parameters named in ``zero_init`` zero, the others Kaiming-uniform (which
        needs a matrix: a method with vector parameters names them in ``zero_init`` or overrides
        this method, as DoRA does for its magnitude)."""
        for name, param in self.adapter_named_parameters():
            if name.startswith(self.zero_init):
                nn.init.zeros_(param)
            else:
                nn.init.kaiming_uniform_(param, a=math.sqrt(5))

    # --- shared machinery ----------------------------------------------------------------------
    def new_param(self, *shape: int) -> nn.Parameter:
        weight = self.base_layer.weight
        return nn.Parameter(torch.empty(*shape, device=weight.device, dtype=weight.dtype))

    @property
    def adapter_names(self) -> tuple[str, ...]:
        """Adapter index i -> name: "text" (query text and padding too), then the spec's modalities."""
        return (TEXT_NAME,) + self.spec.modalities

    def named_params(self, *shape: int, names: Iterable[str] | None = None) -> nn.ParameterDict:
        """One new parameter of ``shape`` per name (default: per adapter), keyed by the name, so the
        state dict reads ``lora_A.text``, ``lora_A.video`` ..."""
        return nn.ParameterDict([(n, self.new_param(*shape)) for n in names or self.adapter_names])

    def joined(
        self, params: nn.ParameterDict, dim: int = 0, stack: bool = False, names: Iterable[str] | None = None
    ) -> Tensor:
        """The parameters in the explicit name order (default: adapter order; the order of the
        stacked weights must not depend on the dict's), concatenated along ``dim`` or stacked."""
        ordered = [params[n] for n in names or self.adapter_names]
        return torch.stack(ordered, dim=dim) if stack else torch.cat(ordered, dim=dim)

    def dropped_per_expert(self, x: Tensor, experts: int) -> Tensor | None:
        """[B, T, N, d]: x under an independent dropout mask per expert (the official LoRAMoE /
        HydraLoRA apply their dropout once per expert); None when dropout is off."""
        if not (self.training and isinstance(self.dropout, nn.Dropout)):
            return None
        return self.dropout(x[:, :, None, :].expand(-1, -1, experts, -1))

    def adapter_named_parameters(self):
        for name, param in self.named_parameters():
            if not name.startswith("base_layer."):
                yield name, param

    def forward(self, x: Tensor) -> Tensor:
        out = self.base_layer(x)
        routing = self.slot.read(x)
        if not self.folded:
            return out + self.routed_delta(x, routing).to(out.dtype)
        if self.training:
            raise RuntimeError("adapter layer is folded for decoding: call unfold_text_path() before training")
        if routing is None:  # decode step: W0 + ΔW_text is exactly the text path, nothing to add
            return out
        return out + self.folded_prefill_delta(x, routing).to(out.dtype)

    def routed_delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        delta = self.delta(x if self.drops_own_input else self.dropout(x), routing)
        if routing is not None and routing.active is not None:  # partial-modality probe
            delta = delta * routing.active[..., None].to(delta.dtype)
        return delta

    def folded_prefill_delta(self, x: Tensor, routing: Routing) -> Tensor:
        """Prefill delta when W0 already carries the text path: the routed delta minus that path
        (a method may compute it more cheaply)."""
        return self.routed_delta(x, routing) - self.delta(x, None)

    # --- decode-time folding ----------------------------------------------------------------------
    def fold_text_path(self) -> None:
        """W0 += ΔW_text: decode steps (text only) then cost one plain matmul, as a merged LoRA;
        prefill still computes the full method, subtracting the folded text path."""
        if not self.foldable:
            raise NotImplementedError(
                f"{self.method_name} cannot fold its text path into W0 (its decode "
                "delta is not a fixed linear map, or it reads W0)"
            )
        if self.folded:
            return
        with torch.no_grad():
            self.base_layer.weight += self.text_delta_weight().to(self.base_layer.weight.dtype)
        self.folded = True

    def unfold_text_path(self) -> None:
        """Undo :meth:`fold_text_path` (exact up to rounding: the adapter cannot train while folded)."""
        if self.folded:
            with torch.no_grad():
                self.base_layer.weight -= self.text_delta_weight().to(self.base_layer.weight.dtype)
            self.folded = False

    def extra_repr(self) -> str:
        return f"method={self.method_name}, rank={self.spec.rank}, in={self.in_features}, out={self.out_features}"


class SoftmaxRouted:
    """Mixin for methods with a bias-free per-token softmax router ``self.router [N, d]`` over N
    experts or heads (LoRAMoE, HydraLoRA)."""

    router: nn.Parameter

    def gates(self, x: Tensor) -> Tensor:
        """Router weights [B, T, N], softmax in float32, back in x's dtype."""
        return torch.softmax((x @ self.router.t()).float(), dim=-1).to(x.dtype)
