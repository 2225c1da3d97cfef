"""A standalone adapter on disk (any HF causal LM, no trainer), and the text-path merge and fold.

``save_adapters`` writes the adapter weights as the ``adapter`` role of the one weights format
(``moka_train/utils/weights_format.py``) with the ``AdapterSpec`` in the manifest; ``load_adapters``
reads them back strictly into a model with the same adapters applied.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..utils.weights_format import (
    MANIFEST,
    ExportError,
    check_keys,
    copy_checked,
    read_manifest,
    read_roles,
    write_weights,
)
from .inject import adapter_modules
from .spec import AdapterSpec

ADAPTER_ROLE = "adapter"
SPEC_KEY = "adapter_spec"  # manifest entry of a standalone adapter (save_adapters)


# --- a standalone adapter (any HF causal LM) ---------------------------------------------------
def adapter_state_dict(model: nn.Module) -> dict[str, Tensor]:
    return {
        f"{mod_name}.{p_name}": param
        for mod_name, module in adapter_modules(model).items()
        for p_name, param in module.adapter_named_parameters()
    }


def save_adapters(model: nn.Module, spec: AdapterSpec, directory: str | Path) -> Path:
    """The adapter weights (role ``adapter``) and ``spec`` (in the manifest) as a weights directory."""
    return write_weights(directory, {ADAPTER_ROLE: adapter_state_dict(model)}, {SPEC_KEY: spec.to_dict()})


def read_adapter_spec(directory: str | Path) -> AdapterSpec:
    manifest = read_manifest(directory)
    if SPEC_KEY not in manifest:
        raise ExportError(
            f"{Path(directory) / MANIFEST}: no {SPEC_KEY} (not written by save_adapters; a run's export "
            "keeps its adapter settings in config.yaml)"
        )
    return AdapterSpec.from_dict(manifest[SPEC_KEY])


def load_adapters(model: nn.Module, directory: str | Path) -> None:
    """Load saved adapter weights strictly into a model that has the same adapters applied."""
    own = adapter_state_dict(model)
    found = False
    for role, tensors, path in read_roles(directory, [ADAPTER_ROLE]):
        check_keys(set(own), tensors, path, role)
        copy_checked(own, tensors, path)
        found = True
    if not found:
        raise ExportError(f"{Path(directory) / MANIFEST}: lists no {ADAPTER_ROLE} weights")


# --- the text path -----------------------------------------------------------------------------
def merge_text_path(model: nn.Module) -> list[str]:
    """Fold s·B·A_text into W0 and put the plain Linear back: a text-only serving model."""
    merged = []
    for name, module in adapter_modules(model).items():
        base = module.base_layer
        with torch.no_grad():
            base.weight += module.text_delta_weight().to(base.weight.dtype)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, base)
        merged.append(name)
    return merged


def fold_text_path(model: nn.Module) -> list[str]:
    """Fold every adapter's text path into its W0 for generation (eval mode only).

    Decode steps then run plain matmuls, as fast as a merged LoRA, while prefill still applies
    each method in full (it subtracts the folded text path again). Raises, folding nothing,
    when a method cannot fold (see ``AdapterLinear.foldable``). Undo with :func:`unfold_text_path`.
    """
    modules = adapter_modules(model)
    refused = sorted({m.method_name for m in modules.values() if not m.foldable})
    if refused:
        raise NotImplementedError(f"method(s) {refused} cannot fold their text path; generate unfolded")
    bad = [name for name, m in modules.items() if not torch.isfinite(m.text_delta_weight()).all()]
    if bad:  # a NaN folded into W0 would poison every token, text included, with no way back
        raise ValueError(
            f"refusing to fold: the text path of {len(bad)} layer(s) is not finite "
            f"(first: {bad[0]}); the adapter weights are corrupt"
        )
    for module in modules.values():
        module.fold_text_path()
    return list(modules)


def unfold_text_path(model: nn.Module) -> list[str]:
    modules = adapter_modules(model)
    for module in modules.values():
        module.unfold_text_path()
    return list(modules)
