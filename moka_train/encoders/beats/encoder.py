"""Loading the official BEATs checkpoint and the encoder wrapper the model assembly uses."""

from __future__ import annotations

from pathlib import Path

import torch

from ..base import Encoder, load_strict, load_torch_file, require_path
from .config import BEATsConfig
from .fbank import SAMPLE_RATE, beats_fbank, num_frames
from .model import BEATs

HEAD_PREFIX = "predictor."  # the AudioSet classifier of fine-tuned checkpoints: not a feature


def beats_from_checkpoint(checkpoint: dict, what: str = "BEATs checkpoint") -> BEATs:
    """A BEATs model from a ``{"cfg": ..., "model": state_dict}`` dict with the official key names.
    Any missing or unexpected key is an error that names it."""
    if not isinstance(checkpoint, dict) or not {"cfg", "model"} <= checkpoint.keys():
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(f"{what}: expected a dict with 'cfg' and 'model', found {found}")
    cfg = BEATsConfig.from_checkpoint(dict(checkpoint["cfg"]))
    state = dict(checkpoint["model"])
    if cfg.finetuned_model:
        head = {k for k in state if k.startswith(HEAD_PREFIX)}
        if head != {HEAD_PREFIX + "weight", HEAD_PREFIX + "bias"}:
            raise ValueError(f"{what}: cfg.finetuned_model is set but the classifier keys are {sorted(head)}")
        state = {k: v for k, v in state.items() if k not in head}
    model = BEATs(cfg)
    load_strict(model, state, what)
    return model


def load_beats(path: str | Path, key: str = "encoder.path") -> BEATs:
    file = require_path(path, key, "file")
    return beats_from_checkpoint(load_torch_file(file), what=f"{key}: BEATs checkpoint {str(file)!r}")


def save_beats(model: BEATs, path: str | Path, finetuned_head: dict[str, torch.Tensor] | None = None) -> Path:
    """The official on-disk format: ``torch.save({"cfg": ..., "model": state_dict})``."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if model.cfg.finetuned_model:
        if finetuned_head is None:
            raise ValueError("a finetuned_model cfg needs the classifier weights (predictor.weight/bias)")
        state.update({HEAD_PREFIX + k: v for k, v in finetuned_head.items()})
    torch.save({"cfg": model.cfg.to_checkpoint(), "model": state}, path)
    return Path(path)


class BeatsEncoder(Encoder):
    """BEATs on 16 kHz mono segments: ``preprocess`` makes the fbank, ``forward`` the patch features."""

    def __init__(self, path: str | Path, key: str = "encoder.path"):
        super().__init__()
        self.model = load_beats(path, key)
        self.output_dim = self.model.cfg.encoder_embed_dim

    def preprocess(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``[N, S]`` (or ``[S]``) float waveforms in [-1, 1], equal-length segments -> ``[N, T, 128]``."""
        return beats_fbank(torch.as_tensor(waveforms))

    def num_tokens(self, seconds: float | None = None) -> int:
        if seconds is None:
            raise ValueError("BEATs token count depends on the segment length: pass seconds")
        return self.model.num_patches(num_frames(round(seconds * SAMPLE_RATE)))

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        return self.model(fbank.to(self.model.patch_embedding.weight.dtype))  # [N, L, D]
