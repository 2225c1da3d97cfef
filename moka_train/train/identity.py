"""What a checkpoint was trained on, stored with it and compared on resume.

A resume that changed any of these would not continue the same run: the sampler order, the
data or the stage sequence differ, and the losses diverge from the uninterrupted run without a
word. Each key names the config key (or fact) it comes from, so a refusal names it too;
``resume_allow_changes`` lists the keys a user changes on purpose.
"""

from __future__ import annotations

from pathlib import Path

from ..config import ConfigError, RunConfig
from ..config.schema import StageConfig
from ..utils.dist import world_size
from ..utils.hashing import file_sha256
from .data import stage_data_config
from .stages import stage_model_config

IDENTITY_KEYS = (
    "train.seed",
    "data.seed",
    "world_size",
    "train.micro_batch_size",
    "data.group_by_modality",
    "data.train_file",
    "stages",
    "stage.plan",  # the stage's media plan and precision (stages[].media over model.modalities)
)


def file_identity(path: str | None) -> dict | None:
    """Size and sha256 of a data file; the path is kept for the message only (data may move)."""
    if path is None:
        return None
    file = Path(path)
    if not file.is_file():
        return {"path": str(file), "size": None, "sha256": None}
    return {"path": str(file.resolve()), "size": file.stat().st_size, "sha256": file_sha256(file)}


def run_identity(cfg: RunConfig, stage: StageConfig) -> dict:
    data = stage_data_config(cfg, stage)
    return {
        "train.seed": cfg.train.seed,
        "data.seed": data.seed,
        "world_size": world_size(),
        "train.micro_batch_size": cfg.train.micro_batch_size,
        "data.group_by_modality": data.group_by_modality,
        "data.train_file": file_identity(data.train_file),
        "stages": [f"{s.name} ({s.kind})" for s in cfg.stages],
        "stage.plan": stage_plan(cfg, stage),
    }


def stage_plan(cfg: RunConfig, stage: StageConfig) -> dict:
    """Precision and, per modality, token count and media plan: what the stage's batches hold."""
    model = stage_model_config(cfg, stage)
    plans = {m.name: f"{m.media_tokens()} tokens, {m.sampling_plan().describe()}" for m in model.modalities}
    return {"precision": stage.precision or cfg.precision, **plans}


def check_identity(saved: dict | None, current: dict, allowed: tuple[str, ...], checkpoint: Path) -> list[str]:
    """Refuse a resume whose identity differs in a key not in ``allowed``; returns the allowed changes."""
    unknown = sorted(set(allowed) - set(IDENTITY_KEYS))
    if unknown:
        raise ConfigError(f"resume_allow_changes: unknown keys {unknown}; allowed: {', '.join(IDENTITY_KEYS)}")
    if saved is None:
        return []  # a checkpoint from before identities were stored: nothing to compare
    changed = [key for key in IDENTITY_KEYS if key in saved and _differs(key, saved[key], current[key])]
    refused = [key for key in changed if key not in allowed]
    if refused:
        lines = [
            f"{key}: {_show(key, saved[key])} in the checkpoint, {_show(key, current[key])} now" for key in refused
        ]
        raise ConfigError(
            f"resume: checkpoint {checkpoint} was trained on something else:\n    "
            + "\n    ".join(lines)
            + f"\n  Put these back, or continue anyway with resume_allow_changes=[{','.join(refused)}] "
            "(the run will not reproduce an uninterrupted one), or use a new output_dir."
        )
    return changed


def _differs(key: str, saved, current) -> bool:
    if key == "data.train_file" and saved and current:
        return (saved["size"], saved["sha256"]) != (current["size"], current["sha256"])
    return saved != current


def _show(key: str, value) -> str:
    if key == "data.train_file" and value:
        digest = (value["sha256"] or "")[:12]
        return f"{value['path']} ({value['size']} bytes, sha256 {digest}...)"
    return repr(value)
