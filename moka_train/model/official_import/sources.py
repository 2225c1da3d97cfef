"""The released official MokA files, read safely, and what each kind of release holds.

Three kinds (the layouts written by the official training scripts):

``projector``  stage 1, ``audio_pretrain.bin`` / ``visual_pretrain.bin`` (scripts/pretrain/pretrain.py:
               ``model.{vl,al}_projector.*`` and the resized ``model.embed_tokens.weight``)
``avt``        an audio-visual fine-tuned directory (``AVQA_checkpoint/``, ``AVE_checkpoint/``, written
               by scripts/finetune/finetune.py): ``adapter_model.bin`` (the LoRA layers),
               ``non_lora_trainables.bin`` (both projectors), ``adapter_config.json`` if shipped
``vt``         the visual-text directory (VisualText/train/train.py, a PeftMixedModel saved whole by the
               HF Trainer as ``model.safetensors``)
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open

from .keymap import OfficialImportError

KINDS = ("projector", "avt", "vt")
AVT_ADAPTER, AVT_PROJECTORS, AVT_CONFIG = "adapter_model.bin", "non_lora_trainables.bin", "adapter_config.json"
VT_WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class OfficialFile:
    """One official tensor file: its key names up front, tensors read on demand (the visual-text
    file is a whole 7B model, of which only the adapters and the projector are read)."""

    path: Path
    keys: tuple[str, ...]
    _tensors: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    def read(self, keys) -> dict[str, torch.Tensor]:
        if self._tensors is not None:
            return {k: self._tensors[k] for k in keys}
        with safe_open(str(self.path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in keys}


def open_tensors(path: Path) -> OfficialFile:
    """``.bin``: a flat state dict read with weights_only (no pickled code runs); safetensors: lazily."""
    if not path.is_file():
        raise OfficialImportError(f"official checkpoint file not found: {path}")
    if path.suffix == ".safetensors":
        try:
            with safe_open(str(path), framework="pt") as f:
                return OfficialFile(path, tuple(f.keys()))
        except Exception as err:  # safetensors' own error type: a truncated or foreign file
            raise OfficialImportError(f"{path}: not a readable safetensors file ({err})") from None
    data = _load_tensors_only(path)
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise OfficialImportError(f"{path}: expected a flat state dict of tensors, got {type(data).__name__}")
    return OfficialFile(path, tuple(data), data)


def _load_tensors_only(path: Path):
    """torch.load(weights_only=True): a pickle that asks for any global but tensors is refused."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = next((line.strip() for line in str(err).splitlines() if "Unsupported" in line), str(err)[:200])
        raise OfficialImportError(
            f"{path}: refused to unpickle it: it asks for more than tensors ({reason}); "
            "only official checkpoints (plain state dicts) are imported"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else ""
        raise OfficialImportError(
            f"{path}: cannot be read, truncated or corrupt ({type(err).__name__}: {first})"
        ) from None


def detect_kind(sources: list[Path]) -> str:
    """The kind of release a list of paths is; ambiguous or unknown layouts are an error."""
    if all(p.is_file() and p.suffix == ".bin" for p in sources):
        return "projector"
    if len(sources) == 1 and sources[0].is_dir():
        if (sources[0] / AVT_ADAPTER).is_file():
            return "avt"
        if (sources[0] / VT_WEIGHTS).is_file():
            return "vt"
    raise OfficialImportError(
        f"cannot tell the release kind of {[str(p) for p in sources]}: pass stage-1 .bin "
        f"files, a directory with {AVT_ADAPTER} (audio-visual) or with {VT_WEIGHTS} "
        f"(visual-text), or --kind one of {', '.join(KINDS)}"
    )


def read_release(kind: str, sources: list[Path]) -> list[OfficialFile]:
    """Every tensor file of a release, in the order they are mapped."""
    if kind == "projector":
        return [open_tensors(p) for p in sources]
    if len(sources) != 1 or not sources[0].is_dir():
        raise OfficialImportError(f"--kind {kind} takes one checkpoint directory, got {[str(p) for p in sources]}")
    root = sources[0]
    names = (AVT_ADAPTER, AVT_PROJECTORS) if kind == "avt" else (VT_WEIGHTS,)
    return [open_tensors(root / n) for n in names]


def read_peft_config(directory: Path) -> dict:
    """The official adapter_config.json when shipped (plain JSON), else {}."""
    path = directory / AVT_CONFIG
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as err:
        raise OfficialImportError(f"{path}: not a readable adapter config ({type(err).__name__})") from None
    if not isinstance(config, dict):
        raise OfficialImportError(f"{path}: an adapter config must be a JSON object")
    return config
