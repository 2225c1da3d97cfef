"""Small shims over transformers API differences between 4.x and 5.x."""

from __future__ import annotations

from torch import nn

NON_REENTRANT = {"use_reentrant": False}


def enable_activation_checkpointing(model: nn.Module) -> None:
    """Checkpoint every decoder layer, non-reentrant (frozen embeddings need no input grads)."""
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=NON_REENTRANT)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=NON_REENTRANT)
