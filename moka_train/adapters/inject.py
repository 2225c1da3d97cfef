"""apply_adapters: wrap the matching nn.Linear layers of any causal LM, in place."""

from __future__ import annotations

from torch import nn

from .base import AdapterLinear
from .registry import get_method
from .routing import RoutingSlot
from .spec import AdapterSpec


def adapter_modules(model: nn.Module) -> dict[str, AdapterLinear]:
    return {name: m for name, m in model.named_modules() if isinstance(m, AdapterLinear)}


def apply_adapters(model: nn.Module, spec: AdapterSpec, slot: RoutingSlot) -> list[str]:
    """Replace every targeted nn.Linear by the spec's adapter layer; freeze all but adapters.

    The slot's phase pre-hook is installed on ``model`` so that a forward extending a KV cache
    switches every layer to text-only routing. Returns the replaced module names.
    """
    method = get_method(spec.method)
    if slot.num_modalities != len(spec.modalities):
        raise ValueError(f"routing slot has {slot.num_modalities} modalities, spec names {spec.modalities}")
    if adapter_modules(model):
        raise ValueError("model already has adapters; apply_adapters runs once per model")
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and spec.matches(n)]
    if not names:
        linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][:6]
        raise ValueError(
            f"no nn.Linear matched adapter targets {list(spec.targets)}; linear layers look like {linears}"
        )
    model.requires_grad_(False)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, method(getattr(parent, child), spec, slot))
    for module in adapter_modules(model).values():
        for _, param in module.adapter_named_parameters():
            param.requires_grad_(True)
    model.register_forward_pre_hook(slot.phase_hook, with_kwargs=True)
    return names


def count_adapter_parameters(model: nn.Module) -> int:
    return sum(p.numel() for m in adapter_modules(model).values() for _, p in m.adapter_named_parameters())
