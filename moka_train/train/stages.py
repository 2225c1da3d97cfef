"""What trains in each stage kind (DESIGN §6)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..config import ConfigError
from ..config.schema import RunConfig, StageConfig

ADAPTED_KINDS = ("moka_finetune",)


def uses_adapters(stage: StageConfig) -> bool:
    return stage.kind in ADAPTED_KINDS


def set_trainable(model: nn.Module, stage: StageConfig, modality_names: list[str]) -> list[str]:
    """Freeze everything, then open the stage's set. Returns the trainable parameter names.

    pretrain_projector: the projectors of ``stage.modalities`` (all when empty).
    moka_finetune:      every adapter parameter, and the projectors of ``stage.modalities`` (all when empty).
    Either kind also trains the encoder of a chosen modality whose ``encoder.frozen`` is false.
    """
    unknown = set(stage.modalities) - set(modality_names)
    if unknown:
        raise ValueError(f"stage {stage.name!r}: modalities {sorted(unknown)} not in model.modalities {modality_names}")
    chosen = set(stage.modalities or modality_names)
    opened = {f"projector.{name}" for name in chosen}
    opened |= {f"encoder.{name}" for name in chosen if name in model.encoders and _trains(model.encoders[name])}
    if uses_adapters(stage):
        opened.add("adapter")
    trainable = []
    for name, param in model.named_parameters():
        on = model.role_of(name) in opened
        param.requires_grad_(on)
        if on:
            trainable.append(name)
    if not trainable:
        raise ValueError(f"stage {stage.name!r} ({stage.kind}) has nothing to train")
    return trainable


def _trains(encoder: nn.Module) -> bool:
    """encoder.frozen: false built it unfrozen (encoders/registry.py). The backbone's own vision
    path has no entry in model.encoders (and config refuses to unfreeze it)."""
    return not getattr(encoder, "frozen", True)


def init_sources(cfg: RunConfig, stage: StageConfig) -> list[Path]:
    """The export directories ``stage.init_from`` names: an earlier stage's export under
    ``output_dir/export``, or an export directory given by path (an imported official checkpoint)."""
    names = [s.name for s in cfg.stages]
    return [Path(cfg.output_dir) / "export" / entry if entry in names else Path(entry) for entry in stage.init_from]


def imported_exports(cfg: RunConfig) -> set[Path]:
    """Export directories the recipe reads by path: inputs of the run, never its outputs."""
    names = [s.name for s in cfg.stages]
    return {Path(entry).resolve() for stage in cfg.stages for entry in stage.init_from if entry not in names}


def check_stage_order(cfg: RunConfig) -> None:
    """Every init_from is an earlier stage or an existing export directory that no stage writes."""
    if not cfg.stages:
        raise ConfigError("the config lists no stages: add `stages:` with at least one entry")
    names, seen = [s.name for s in cfg.stages], set()
    written = {(Path(cfg.output_dir) / "export" / name).resolve(): name for name in names}
    for i, stage in enumerate(cfg.stages):
        for entry in stage.init_from:
            key = f"stages[{i}].init_from {entry!r}"
            if entry in names and entry not in seen:
                raise ConfigError(
                    f"{key}: stage {entry!r} does not come before {stage.name!r} (earlier: {sorted(seen) or 'none'})"
                )
            if entry in names:
                continue
            path = Path(entry)
            if path.resolve() in written:
                raise ConfigError(
                    f"{key}: that is where stage {written[path.resolve()]!r} of this run writes its "
                    "export; import elsewhere (moka-train import-official --stage <another name>)"
                )
            if not (path / "manifest.json").is_file():
                raise ConfigError(
                    f"{key}: neither an earlier stage (earlier: {sorted(seen) or 'none'}) nor an "
                    f"export directory (no manifest.json at {path}); import the official weights "
                    "first with `moka-train import-official`"
                )
        seen.add(stage.name)
