"""Exports: the trainable weights alone, by role, as safetensors, with the config and a manifest.

    <output_dir>/export/<stage>/
        projector.<modality>.safetensors   adapter.safetensors   embeddings.safetensors
        config.yaml   manifest.json        (written aside, then renamed into place)

A later stage (``init_from``) or ``infer`` loads them strictly: a file whose size or sha256
differs from the manifest fails with the file named, and so does a missing or unexpected key,
a shape or dtype the model does not have, or a manifest entry outside the export directory.
The format itself (writer and reader) is ``moka_train/utils/weights_format.py``, the one weights format; this
module adds what a run needs around it: the roles of a multimodal model, ZeRO-3 gathering and
rank 0 writing.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn

from ..utils.dist import is_main
from ..utils.weights_format import check_fits, check_keys, copy_checked, read_roles, write_weights

__all__ = ["export_weights", "gathered", "load_export", "trainable_by_role"]


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
    writer: bool | None = None,
) -> Path:
    """Every rank calls (ZeRO-3 gathers collectively); ``writer`` writes (default: global rank 0;
    on node-local disks each node's local rank 0, ``utils.dist.writes_outputs``)."""
    roles = trainable_by_role(model)
    roles.update(extra or {})
    directory = Path(directory)
    if not (is_main() if writer is None else writer):
        return directory
    return write_weights(directory, roles, info, {"config.yaml": config_yaml})


def load_export(model: nn.Module, directory: str | Path, roles: list[str] | None = None) -> list[str]:
    """Load the roles of an export (all of them by default) strictly into ``model``."""
    params = dict(model.named_parameters())
    loaded = []
    for role, tensors, path in read_roles(directory, roles):
        _load_role(model, params, role, tensors, path)
        loaded.append(role)
    return loaded


def _load_role(model, params, role: str, tensors: dict, source: Path) -> None:
    if role == "embeddings":  # the placeholder rows: same keys, shapes and kind of dtype as the model's
        own = model.added_embeddings()
        check_keys(set(own), tensors, source, role)
        for name, row in own.items():
            check_fits(name, tensors[name], row, source)
        model.load_added_embeddings(tensors)
        return
    expected = {n: p for n, p in params.items() if model.role_of(n) == role}
    check_keys(set(expected), tensors, source, role)
    with gathered(list(expected.values())):
        copy_checked(expected, tensors, source)
