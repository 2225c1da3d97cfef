"""Token-routed PEFT layers for any HF causal LM (torch + safetensors only)."""

from .base import AdapterLinear
from .inject import adapter_modules, apply_adapters, count_adapter_parameters
from .registry import available_methods, get_method, register
from .routing import Routing, RoutingError, RoutingSlot
from .spec import DEFAULT_TARGETS, AdapterSpec
from .state import (
    adapter_state_dict,
    fold_text_path,
    load_adapters,
    merge_text_path,
    read_adapter_spec,
    save_adapters,
    unfold_text_path,
)

__all__ = [
    "AdapterLinear",
    "AdapterSpec",
    "DEFAULT_TARGETS",
    "Routing",
    "RoutingError",
    "RoutingSlot",
    "adapter_modules",
    "adapter_state_dict",
    "apply_adapters",
    "available_methods",
    "count_adapter_parameters",
    "fold_text_path",
    "get_method",
    "load_adapters",
    "merge_text_path",
    "read_adapter_spec",
    "register",
    "save_adapters",
    "unfold_text_path",
]
