"""Exports: the trainable weights alone, by role, as safetensors, with the config and a manifest.

    <output_dir>/export/<stage>/
        projector.<modality>.safetensors   adapter.safetensors   embeddings.safetensors
        config.yaml   manifest.json        (written aside, then renamed into place)

A later stage (``init_from``) or ``infer`` loads them strictly: a file whose size or sha256
differs from the manifest fails with the file named, and so does a missing or unexpected key.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import defaultdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..utils.dist import is_main
from ..utils.hashing import file_sha256

MANIFEST = "manifest.json"


class ExportError(RuntimeError):
    pass


def gathered(params: list[nn.Parameter]):
    """Full parameters under ZeRO-3 (a no-op otherwise)."""
    if any(hasattr(p, "ds_id") for p in params):
        import deepspeed

        return deepspeed.zero.GatheredParameters(params, modifier_rank=None)
    return contextlib.nullcontext()


def trainable_by_role(model: nn.Module) -> dict[str, dict[str, torch.Tensor]]:
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    roles: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
    with gathered([p for _, p in named]):
        for name, param in named:
            roles[model.role_of(name)][name] = param.detach().to("cpu").clone().contiguous()
    return dict(roles)


def export_weights(
    model: nn.Module,
    directory: str | Path,
    config_yaml: str,
    info: dict,
    extra: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Every rank calls (ZeRO-3 gathers collectively); rank 0 writes."""
    roles = trainable_by_role(model)
    roles.update(extra or {})
    directory = Path(directory)
    if not is_main():
        return directory
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    files = {}
    for role, tensors in sorted(roles.items()):
        path = partial / f"{role}.safetensors"
        save_file(tensors, str(path))
        files[path.name] = {
            "role": role,
            "tensors": len(tensors),
            "parameters": sum(t.numel() for t in tensors.values()),
            "sha256": file_sha256(path),
        }
    (partial / "config.yaml").write_text(config_yaml)
    (partial / MANIFEST).write_text(json.dumps({**info, "files": files}, indent=2))
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(partial, directory)
    return directory


def load_export(model: nn.Module, directory: str | Path, roles: list[str] | None = None) -> list[str]:
    """Load the roles of an export (all of them by default) strictly into ``model``."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ExportError(f"no export at {directory} (missing {MANIFEST})")
    manifest = json.loads(manifest_path.read_text())
    params = dict(model.named_parameters())
    loaded = []
    for file_name, entry in manifest["files"].items():
        role = entry["role"]
        if roles is not None and role not in roles:
            continue
        tensors = load_file(str(verified_file(directory, file_name, entry)))
        _load_role(model, params, role, tensors, directory / file_name)
        loaded.append(role)
    return loaded


def verified_file(directory: Path, file_name: str, entry: dict) -> Path:
    """``directory / file_name`` once its sha256 matches the manifest's (a flipped bit fails here)."""
    path = directory / file_name
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


def _load_role(model, params, role: str, tensors: dict, source: Path) -> None:
    if role == "embeddings":
        model.load_added_embeddings(tensors)
        return
    expected = {n for n in params if model.role_of(n) == role}
    missing, unexpected = sorted(expected - tensors.keys()), sorted(tensors.keys() - expected)
    if missing or unexpected:
        raise ExportError(
            f"{source} ({role}) does not fit the model: missing keys {missing[:8]} "
            f"({len(missing)}), unexpected keys {unexpected[:8]} ({len(unexpected)})"
        )
    with torch.no_grad(), gathered([params[n] for n in expected]):
        for name in expected:
            if params[name].shape != tensors[name].shape:
                raise ExportError(
                    f"{source}: {name} has shape {tuple(tensors[name].shape)}, "
                    f"the model expects {tuple(params[name].shape)}"
                )
            params[name].copy_(tensors[name].to(params[name].dtype))
