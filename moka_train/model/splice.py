"""Write projected media features into the token embeddings at their placeholder positions."""

from __future__ import annotations

import torch
from torch import Tensor


class SpliceError(ValueError):
    pass


def splice_features(
    embeds: Tensor,
    modality_ids: Tensor,
    modality_id: int,
    features: Tensor,
    name: str = "media",
    sample_ids: list[str] | None = None,
    host_modality_ids: Tensor | None = None,
) -> Tensor:
    """Replace the embeddings of every token whose modality id is ``modality_id``.

    embeds [B, T, d]; modality_ids [B, T]; features [n_items, K, d] in batch-row order (row-major,
    which is the order ``masked_scatter`` fills). Count-checked: the placeholders and the features
    must agree exactly; the error names both counts and the samples involved. The count is read
    from ``host_modality_ids`` (the batch's host copy) when given: no device sync.
    """
    mask = modality_ids == modality_id  # [B, T]
    counted = mask if host_modality_ids is None else host_modality_ids == modality_id
    slots = int(counted.sum())
    given = features.shape[0] * features.shape[1] if features.numel() else 0
    if slots != given:
        per_row = counted.sum(dim=1).tolist()
        who = f" (samples {sample_ids})" if sample_ids else ""
        raise SpliceError(
            f"{name}: {slots} placeholder tokens in the batch (per row {per_row}) but "
            f"{given} feature tokens ({tuple(features.shape)}){who}"
        )
    if slots == 0:
        return embeds
    if features.shape[-1] != embeds.shape[-1]:
        raise SpliceError(f"{name}: projector width {features.shape[-1]} != LLM width {embeds.shape[-1]}")
    flat = features.reshape(-1, features.shape[-1]).to(embeds.dtype)  # [n_items*K, d]
    return embeds.masked_scatter(mask[..., None], flat)


def zero_touch(*tensors: Tensor) -> Tensor:
    """0 · Σ t: keeps modules in the autograd graph when a batch lacks their modality (ZeRO-3)."""
    return sum((t.float().sum() * 0.0 for t in tensors), torch.zeros(()))
