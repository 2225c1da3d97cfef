"""What trains in each stage kind (DESIGN §6)."""

from __future__ import annotations

from torch import nn

from ..config.schema import StageConfig

ADAPTED_KINDS = ("moka_finetune",)


def uses_adapters(stage: StageConfig) -> bool:
    return stage.kind in ADAPTED_KINDS


def set_trainable(model: nn.Module, stage: StageConfig, modality_names: list[str]) -> list[str]:
    """Freeze everything, then open the stage's set. Returns the trainable parameter names.

    pretrain_projector: the projectors of ``stage.modalities`` (all when empty).
    moka_finetune:      every adapter parameter and every projector.
    """
    unknown = set(stage.modalities) - set(modality_names)
    if unknown:
        raise ValueError(f"stage {stage.name!r}: modalities {sorted(unknown)} not in model.modalities {modality_names}")
    chosen = set(stage.modalities or modality_names)
    trainable = []
    for name, param in model.named_parameters():
        role = model.role_of(name)
        on = (role.startswith("projector.") and role.split(".", 1)[1] in chosen) or (
            uses_adapters(stage) and (role == "adapter" or role.startswith("projector.")))
        param.requires_grad_(on)
        if on:
            trainable.append(name)
    if not trainable:
        raise ValueError(f"stage {stage.name!r} ({stage.kind}) has nothing to train")
    return trainable
