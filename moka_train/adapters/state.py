"""Adapter weights on disk (safetensors + adapter_config.json), strict loading, text-path merge."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from .inject import adapter_modules
from .spec import AdapterSpec

WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"


class AdapterStateError(RuntimeError):
    pass


def adapter_state_dict(model: nn.Module) -> dict[str, Tensor]:
    return {
        f"{mod_name}.{p_name}": param
        for mod_name, module in adapter_modules(model).items()
        for p_name, param in module.adapter_named_parameters()
    }


def save_adapters(model: nn.Module, spec: AdapterSpec, directory: str | Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in adapter_state_dict(model).items()}
    save_file(tensors, str(directory / WEIGHTS_FILE))
    (directory / CONFIG_FILE).write_text(json.dumps(spec.to_dict(), indent=2))
    return directory


def read_adapter_spec(directory: str | Path) -> AdapterSpec:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"adapter config not found: {path}")
    return AdapterSpec.from_dict(json.loads(path.read_text()))


def load_adapters(model: nn.Module, directory: str | Path) -> None:
    """Load saved adapter weights; any missing, unexpected or mis-shaped key is an error naming it."""
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"adapter weights not found: {path}")
    load_adapter_tensors(model, load_file(str(path)), source=str(path))


def load_adapter_tensors(model: nn.Module, tensors: dict[str, Tensor], source: str = "<dict>") -> None:
    own = adapter_state_dict(model)
    missing, unexpected = sorted(own.keys() - tensors.keys()), sorted(tensors.keys() - own.keys())
    shapes = [
        f"{k}: saved {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own.keys() & tensors.keys()
        if own[k].shape != tensors[k].shape
    ]
    if missing or unexpected or shapes:
        raise AdapterStateError(
            f"adapter weights in {source} do not fit the model: missing {missing[:8]} "
            f"({len(missing)}), unexpected {unexpected[:8]} ({len(unexpected)}), "
            f"shape mismatches {shapes[:8]}"
        )
    with torch.no_grad():
        for key, param in own.items():
            param.copy_(tensors[key].to(param.dtype))


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
