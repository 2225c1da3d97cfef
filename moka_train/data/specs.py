"""Modality specs (placeholder, token count, id) derived from the model config: the data side's
name for ``moka_train.modality.modality_specs``, the one function the model builder uses too."""

from __future__ import annotations

from ..modality import modality_specs

__all__ = ["modality_specs"]
