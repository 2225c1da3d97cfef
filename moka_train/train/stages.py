"""What trains in each stage kind (DESIGN §6)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..config import ConfigError
from ..config.schema import ModelConfig, RunConfig, StageConfig, TrainConfig
from ..config.sections.train import stage_model

ADAPTED_KINDS = ("moka_finetune",)


def uses_adapters(stage: StageConfig) -> bool:
    return stage.kind in ADAPTED_KINDS


def stage_model_config(cfg: RunConfig, stage: StageConfig) -> ModelConfig:
    """The model config of one stage (its media plan and precision): the one source the model,
    the placeholder expansion, media loading and the feature cache of that stage all read."""
    return stage_model(cfg.model, stage, list(cfg.stages).index(stage))


def stage_train_config(cfg: RunConfig, stage: StageConfig) -> TrainConfig:
    """train: with DeepSpeed's precision that of the stage (model dtype and engine agree)."""
    if stage.precision is None:
        return cfg.train
    deepspeed = cfg.train.deepspeed.model_copy(update={"precision": stage.precision})
    return cfg.train.model_copy(update={"deepspeed": deepspeed})


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


def load_init(model: nn.Module, cfg: RunConfig, stage: StageConfig) -> list[tuple[Path, list[str]]]:
    """Load ``stage.init_from`` strictly: (export, roles loaded) per export. With
    ``stage.init_roles`` only the roles named there load, each under this model's role name (the
    pretrained ``projector.video`` as the visual-text model's ``projector.image``), each found once."""
    from ..model.export import load_export

    sources = init_sources(cfg, stage)
    if not stage.init_roles:
        return [(source, load_export(model, source)) for source in sources]
    wanted = {export_role: role for role, export_role in stage.init_roles.items()}
    done, found = [], set()
    for source in sources:
        present = _roles_in(source)  # the manifest read once per source, not once per wanted role
        loaded = [
            _load_renamed(model, source, export_role, role)
            for export_role, role in wanted.items()
            if export_role in present
        ]
        found |= set(loaded)
        done.append((source, loaded))
    missing = sorted(set(stage.init_roles) - found)
    if missing:
        raise ValueError(
            f"stage {stage.name!r}: init_roles {missing} not loaded: their export roles "
            f"{[stage.init_roles[m] for m in missing]} are in none of {[str(s) for s in sources]}"
        )
    return done


def _roles_in(directory: Path) -> set[str]:
    from ..utils.weights_format import read_manifest

    return {entry["role"] for entry in read_manifest(directory)["files"].values()}


def _load_renamed(model: nn.Module, source: Path, export_role: str, role: str) -> str:
    """One export role into this model's ``role``: keys renamed prefix for prefix, then loaded
    strictly (missing and unexpected keys named), as load_export does."""
    from ..model.export import gathered
    from ..utils.weights_format import check_keys, copy_checked, read_roles

    old, new = _key_prefix(export_role), _key_prefix(role)
    expected = {n: p for n, p in model.named_parameters() if model.role_of(n) == role}
    for _, tensors, path in read_roles(source, [export_role]):
        renamed = {new + k[len(old) :] if k.startswith(old) else k: v for k, v in tensors.items()}
        check_keys(set(expected), renamed, path, f"{export_role} as {role}")
        with gathered(list(expected.values())):
            copy_checked(expected, renamed, path)
    return role


def _key_prefix(role: str) -> str:
    """projector.video -> 'projectors.video.': the parameter names of that role (config checks the form)."""
    head, _, name = role.partition(".")
    return f"{head}s.{name}."


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
                    f"export directory (no manifest.json at {path}); run the stage-1 recipe "
                    "(configs/pretrain_<backbone>.yaml) and set PRETRAIN_EXPORT to its export directory, "
                    "or import the official weights first with `moka-train import-official`"
                )
            _check_same_llm(cfg, path, key)
        seen.add(stage.name)


def _check_same_llm(cfg: RunConfig, export: Path, key: str) -> None:
    """Projectors pretrained against one LLM are aligned to its embedding space: an export of
    another backbone (LLaMA-2 and LLaMA-3 are both 4096 wide, so shapes would not tell) is refused.
    The LLM directory's name is compared, not its path (runs move between machines)."""
    import yaml

    written = export / "config.yaml"
    if not written.is_file():
        return
    data = yaml.safe_load(written.read_text()) or {}
    theirs = ((data.get("model") or {}).get("llm_path")) if isinstance(data, dict) else None
    if theirs and Path(theirs).name != Path(cfg.model.llm_path).name:
        raise ConfigError(
            f"{key}: that export was trained with the LLM {theirs!r}, this run uses {cfg.model.llm_path!r}; "
            "use the stage-1 export of this backbone (configs/pretrain_<backbone>.yaml, PRETRAIN_EXPORT)"
        )
