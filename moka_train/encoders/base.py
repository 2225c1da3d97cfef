"""What every encoder shares: checkpoint checks, freezing, strict state-dict loading with a report.

The common interface (``Encoder`` below):

- ``output_dim: int``: width D of the features;
- ``preprocess(raw) -> Tensor``: the encoder's own front end on raw media (frames, waveforms);
- ``forward(inputs) -> Tensor [N, L, D]``: features for N preprocessed inputs;
- ``num_tokens(seconds=None) -> int``: L for one input (audio encoders need the segment length).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn


class MissingCheckpointError(FileNotFoundError):
    """A configured checkpoint path does not exist; the message names the config key and the path."""


class CheckpointKeyError(KeyError):
    """A state dict does not match the model: the message lists missing and unexpected keys."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message, quoting it
        return str(self.args[0])


def require_path(path: str | Path, key: str, kind: str = "file or directory") -> Path:
    """``path`` as a Path, or an error naming the config ``key`` that supplied it."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise MissingCheckpointError(f"{key}: checkpoint {kind} not found at {str(resolved)!r}")
    return resolved


def load_torch_file(path: Path) -> dict:
    """A checkpoint dict saved with torch.save, read without unpickling arbitrary objects."""
    return torch.load(path, map_location="cpu", weights_only=True)


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """``load_state_dict(strict=True)`` with an error that lists every missing/unexpected key."""
    expected = set(module.state_dict().keys())
    got = set(state.keys())
    missing, unexpected = sorted(expected - got), sorted(got - expected)
    if missing or unexpected:
        raise CheckpointKeyError(
            f"{what}: state dict does not match the model; "
            f"missing keys {missing or 'none'}, unexpected keys {unexpected or 'none'}"
        )
    module.load_state_dict(state, strict=True)


class Encoder(nn.Module):
    """Base of every encoder wrapper: frozen encoders stay in eval mode whatever their parent does."""

    output_dim: int
    frozen: bool = False

    def freeze(self) -> Encoder:
        """No gradients, and eval mode (dropout off) that a parent's ``.train()`` does not undo."""
        self.requires_grad_(False)
        self.frozen = True
        return self.train(False)

    def train(self, mode: bool = True) -> Encoder:
        return super().train(mode and not self.frozen)
