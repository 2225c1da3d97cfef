"""Write converted official weights as one of our exports, checked strictly against our model.

The export is written by ``export_weights`` and read back by ``load_export``, the functions every
stage and evaluation use, so an import that loads here loads everywhere.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ...config.schema import AdapterConfig
from ..export import export_weights, load_export
from .convert import ADAPTER, AdapterSettings, Converted
from .keymap import OfficialImportError

SETTING_KEYS = ("method", "rank", "alpha", "temperature", "xattn_weight")  # dropout only matters in training


def check_recipe(adapter: AdapterConfig, settings: AdapterSettings | None, source: str) -> None:
    """The recipe's adapter must compute what the official layer computed (names each difference)."""
    if settings is None:
        return
    wrong = [
        f"adapter.{k} is {getattr(adapter, k)!r}, the official weights need {getattr(settings, k)!r}"
        for k in SETTING_KEYS
        if getattr(adapter, k) != getattr(settings, k)
    ]
    if wrong:
        raise OfficialImportError(
            f"{source}: "
            + "; ".join(wrong)
            + ". Pass "
            + " ".join(settings.overrides())
            + " (or use a configs/*_official*.yaml recipe)"
        )


def check_against_model(model: nn.Module, converted: Converted) -> None:
    """Every parameter of each imported role present, nothing extra, shapes equal: named by the
    official key it comes from (or should come from)."""
    params = dict(model.named_parameters())
    for role, tensors in converted.roles.items():
        expected = {n for n in params if model.role_of(n) == role}
        missing = sorted(converted.official_name(role, n) for n in expected - tensors.keys())
        extra = sorted(converted.origin[n] for n in tensors.keys() - expected)
        shapes = [
            f"{converted.origin[n]}: {tuple(tensors[n].shape)} vs ours {tuple(params[n].shape)}"
            for n in sorted(expected & tensors.keys())
            if tensors[n].shape != params[n].shape
        ]
        if missing or extra or shapes:
            raise OfficialImportError(
                f"the official weights do not fit our {role}: missing {missing[:12]} ({len(missing)}), "
                f"not in our model {extra[:12]} ({len(extra)}), shape mismatches {shapes[:8]} ({len(shapes)})"
            )


def manifest_info(converted: Converted, stage: str, sources: list[str]) -> dict:
    return {
        "stage": stage,
        "kind": "official_import",
        "official": {
            "release": converted.kind,
            "sources": sources,
            "slot_order": converted.slot_order,  # official A -> our slot (text first, then config order)
            "adapter": None if converted.settings is None else converted.settings.__dict__,
            "config_overrides": [] if converted.settings is None else converted.settings.overrides(),
            "unused": converted.unused,
        },
    }


def write_import(
    model: nn.Module, converted: Converted, directory: str | Path, config_yaml: str, stage: str, sources: list[str]
) -> Path:
    """Check, export and load back. The model's own weights are frozen first, so the export
    holds exactly the official roles (passed as ``extra``)."""
    check_against_model(model, converted)
    if ADAPTER in converted.roles and converted.settings is None:
        raise OfficialImportError("adapter weights without adapter settings")
    model.requires_grad_(False)
    directory = export_weights(
        model, directory, config_yaml, manifest_info(converted, stage, sources), extra=converted.roles
    )
    load_export(model, directory)
    return directory


def describe_import(converted: Converted, directory: Path) -> list[str]:
    """What was imported, what was left out and why, and the settings the weights need."""
    lines = [f"imported official {converted.kind} weights into {directory}"]
    lines += [f"  {role}: {len(t)} tensors" for role, t in sorted(converted.roles.items())]
    if converted.slot_order:
        lines.append("  modality slots: " + ", ".join(f"{k} -> {v}" for k, v in converted.slot_order.items()))
    for reason, keys in converted.unused.items():
        lines.append(f"  unused ({len(keys)} keys, listed in manifest.json): {reason}")
    if converted.settings is not None:
        lines.append("  the weights need: " + " ".join(converted.settings.overrides()))
    return lines
