"""The one on-disk format for trained weights: its writer, its reader and its strict checks.

A weights directory holds one safetensors file per role and a manifest::

    <directory>/<role>.safetensors ...   manifest.json   [extra text files, e.g. config.yaml]

The manifest lists every file with its role, tensor and parameter counts, tensor dtypes and
sha256; readers verify the hash and load strictly (a missing, unexpected, mis-shaped or
wrongly typed key is an error naming it: an int8 or bool tensor is never cast into float
weights). Manifest entries name plain files inside the directory: an absolute path, ``..`` or a
link out of it is refused, and so is a manifest that is not a JSON object of that form.

Its users: a run's export (``model/export.py``: projectors, adapter, embeddings), the stage
plans that start from an export (``train/stages.py``) and a standalone adapter
(``adapters/state.py``: ``save_adapters``, the ``adapter`` role, the spec in the manifest). It
knows nothing of any of them (torch, safetensors and a hash only): it sits in ``utils``, the lowest
layer, so every layer may use it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from .hashing import file_sha256

MANIFEST = "manifest.json"


class ExportError(RuntimeError):
    """A weights directory that cannot be written or does not fit the model."""


# --- the format: write -------------------------------------------------------------------------
def readable_mode() -> int:
    """The mode a new file gets under this process's umask (0o644 under the usual 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_safetensors(tensors: dict[str, Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """safetensors' save_file, readable as any other file: it creates its file 0600 whatever the
    umask, and an export or feature cache private to its writer cannot be served or shared."""
    save_file(tensors, str(path), metadata=metadata)
    os.chmod(path, readable_mode())


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
        save_safetensors({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, path)
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
