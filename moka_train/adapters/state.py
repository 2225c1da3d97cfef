"""The one on-disk format for trained weights, and the text-path merge.

A weights directory holds one safetensors file per role and a manifest::

    <directory>/<role>.safetensors ...   manifest.json   [extra text files, e.g. config.yaml]

The manifest lists every file with its role, tensor and parameter counts, tensor dtypes and
sha256; readers verify the hash and load strictly (a missing, unexpected, mis-shaped or
wrongly typed key is an error naming it: an int8 or bool tensor is never cast into float
weights). Manifest entries name plain files inside the directory: an absolute path, ``..`` or a
link out of it is refused, and so is a manifest that is not a JSON object of that form.
A run's export (``model/export.py``: projectors, adapter, embeddings) and a standalone
adapter (:func:`save_adapters`: the ``adapter`` role, the spec in the manifest) are both this
format; this module is its one writer and reader. It lives here, in the torch-only core, so
that the adapters alone (any HF causal LM, no trainer) can save and load without ``model/``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ..utils.hashing import file_sha256
from .inject import adapter_modules
from .spec import AdapterSpec

MANIFEST = "manifest.json"
ADAPTER_ROLE = "adapter"
SPEC_KEY = "adapter_spec"  # manifest entry of a standalone adapter (save_adapters)


class ExportError(RuntimeError):
    """A weights directory that cannot be written or does not fit the model."""


# --- the format: write -------------------------------------------------------------------------
def write_weights(
    directory: str | Path, roles: dict[str, dict[str, Tensor]], info: dict, texts: dict[str, str] | None = None
) -> Path:
    """Write ``roles`` (role -> name -> tensor) and ``texts`` (file name -> content) with a
    manifest holding ``info``; written aside, then renamed into place, replacing a previous
    weights directory (never a directory of other files)."""
    directory = Path(directory)
    _check_replaceable(directory)
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    files = {}
    for role, tensors in sorted(roles.items()):
        path = partial / f"{role}.safetensors"
        save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(path))
        files[path.name] = {
            "role": role,
            "tensors": len(tensors),
            "parameters": sum(t.numel() for t in tensors.values()),
            "dtypes": sorted({str(t.dtype).removeprefix("torch.") for t in tensors.values()}),
            "sha256": file_sha256(path),
        }
    for name, text in (texts or {}).items():
        (partial / name).write_text(text)
    (partial / MANIFEST).write_text(json.dumps({**info, "files": files}, indent=2))
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(partial, directory)
    return directory


def _check_replaceable(directory: Path) -> None:
    foreign = directory.is_dir() and any(directory.iterdir()) and not (directory / MANIFEST).is_file()
    if directory.is_file() or foreign:  # never wipe a directory of other files (save_adapters(".", ...))
        raise ExportError(f"{directory}: exists and is not a weights directory (no {MANIFEST}); refusing to replace it")


# --- the format: read --------------------------------------------------------------------------
def read_manifest(directory: str | Path) -> dict:
    """The manifest as a dict whose ``files`` maps plain file names to entries with a ``role``;
    anything else (truncated, nested beyond reason, misshapen) is an :class:`ExportError`."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ExportError(f"no export at {directory} (missing {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ExportError(f"{path}: nested too deeply to be a manifest") from None
    except (ValueError, OSError) as err:  # truncated, not JSON, not UTF-8
        raise ExportError(f"{path}: not a readable manifest ({type(err).__name__}: {err}); re-export it") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(e, dict) and isinstance(e.get("role"), str) for e in files.values()
    ):
        raise ExportError(f"{path}: not a manifest: it needs 'files', a mapping of file name -> {{'role', 'sha256'}}")
    return manifest


def read_roles(directory: str | Path, roles: list[str] | None = None) -> Iterator[tuple[str, dict, Path]]:
    """(role, tensors, file) of every verified file of the manifest (only ``roles``, if given)."""
    directory = Path(directory)
    for file_name, entry in read_manifest(directory)["files"].items():
        if roles is None or entry["role"] in roles:
            path = verified_file(directory, file_name, entry)
            tensors = load_file(str(path))
            check_manifest_dtypes(tensors, entry, path)
            yield entry["role"], tensors, path


def verified_file(directory: Path, file_name: str, entry: dict) -> Path:
    """``directory / file_name`` once it is a plain file inside ``directory`` and its sha256
    matches the manifest's (a flipped bit fails here)."""
    path = directory / file_name
    inside = Path(file_name).name == file_name and file_name not in ("", ".", "..")
    if not inside or not path.resolve().is_relative_to(directory.resolve()):
        raise ExportError(
            f"{directory / MANIFEST}: lists {file_name!r}, which is not a file inside {directory} "
            "(manifest entries name files of the export directory only)"
        )
    if not path.is_file():
        raise ExportError(f"{path}: missing (listed in {directory / MANIFEST})")
    expected = entry.get("sha256")
    if expected is None:
        raise ExportError(f"{directory / MANIFEST}: no sha256 for {file_name}; re-export it")
    if file_sha256(path) != expected:
        raise ExportError(
            f"{path}: sha256 differs from {directory / MANIFEST} (corrupt or altered; {path.stat().st_size} bytes)"
        )
    return path


def check_manifest_dtypes(tensors: dict[str, Tensor], entry: dict, source: Path) -> None:
    """Every tensor of a type the manifest lists (manifests written before dtypes were recorded
    list none: the model check below still applies)."""
    listed = entry.get("dtypes")
    if listed is None:
        return
    for name, tensor in tensors.items():
        if str(tensor.dtype).removeprefix("torch.") not in listed:
            raise ExportError(f"{source}: {name} is {tensor.dtype}, the manifest lists {listed}")


def check_keys(expected: set[str], tensors: dict[str, Tensor], source: Path, role: str) -> None:
    missing, unexpected = sorted(expected - tensors.keys()), sorted(tensors.keys() - expected)
    if missing or unexpected:
        raise ExportError(
            f"{source} ({role}) does not fit the model: missing keys {missing[:8]} "
            f"({len(missing)}), unexpected keys {unexpected[:8]} ({len(unexpected)})"
        )


def copy_checked(params: dict[str, Tensor], tensors: dict[str, Tensor], source: Path) -> None:
    """Copy ``tensors`` into the same-named ``params`` (keys already checked), shapes first."""
    for name, param in params.items():
        check_fits(name, tensors[name], param, source)
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(tensors[name].to(param.dtype))


def check_fits(name: str, tensor: Tensor, param: Tensor, source: Path) -> None:
    """Same shape, and a floating tensor for floating weights (precision may differ: a bf16
    export loads into a float32 model); any other type must match exactly."""
    if param.shape != tensor.shape:
        raise ExportError(f"{source}: {name} has shape {tuple(tensor.shape)}, the model expects {tuple(param.shape)}")
    same_kind = tensor.dtype.is_floating_point if param.dtype.is_floating_point else tensor.dtype == param.dtype
    if not same_kind:
        raise ExportError(f"{source}: {name} is {tensor.dtype}, the model's weight is {param.dtype}; not cast")


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
