"""Reading checkpoint files without trusting them: checksums first, then tensors-only unpickling.

A checkpoint directory holds ``checksums.json`` (size and sha256 of every file in it, written
before ``COMPLETE``). Loading verifies it and names the first file that fails. Every ``.pt`` in
it, DeepSpeed's own included, is read with ``torch.load(weights_only=True)``: the unpickler then
builds tensors, containers and the few plain DeepSpeed state classes listed below, and refuses
any other global (a crafted pickle cannot run code).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch

from ..utils.hashing import file_sha256
from ..utils.logging import get_logger

log = get_logger(__name__)
CHECKSUMS = "checksums.json"


class CheckpointFileError(RuntimeError):
    """A checkpoint file that is missing, truncated, altered or unreadable (the message names it)."""


class UnsafeCheckpointError(CheckpointFileError):
    """A checkpoint file whose pickle asks for something other than tensors and plain state."""


def write_checksums(directory: Path, skip: tuple[str, ...] = ()) -> dict:
    """Size and sha256 of every file under ``directory`` (but ``skip``), written to checksums.json."""
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if rel != CHECKSUMS and rel not in skip:
            files[rel] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    (directory / CHECKSUMS).write_text(json.dumps(files, indent=1))
    return files


def verify_checksums(directory: Path) -> None:
    """Raise CheckpointFileError naming the first file that is missing or differs from checksums.json."""
    listing = directory / CHECKSUMS
    if not listing.is_file():
        log.warning("%s has no %s (written by an older moka-train): its files are not verified", directory, CHECKSUMS)
        return
    try:
        files = json.loads(listing.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointFileError(f"{listing} is not valid JSON ({err})") from None
    for rel, want in files.items():
        path = directory / rel
        if not path.is_file():
            raise CheckpointFileError(f"{path}: missing (listed in {listing})")
        size = path.stat().st_size
        if size != want["size"]:
            raise CheckpointFileError(f"{path}: {size} bytes, {want['size']} when saved (truncated or replaced)")
        if file_sha256(path) != want["sha256"]:
            raise CheckpointFileError(f"{path}: sha256 differs from the one saved in {listing} (altered or corrupt)")


def deepspeed_state_classes() -> list[type]:
    """The plain-data DeepSpeed classes its optimizer states pickle (attributes are numbers and dtypes)."""
    from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum
    from deepspeed.utils.tensor_fragment import fragment_address

    return [LossScaler, DynamicLossScaler, ZeroStageEnum, fragment_address]


def safe_torch_load(path: str | Path, map_location=None):
    """``torch.load(weights_only=True)`` allowing DeepSpeed's state classes; errors name the file."""
    try:
        with torch.serialization.safe_globals(deepspeed_state_classes()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        reason = next((line.strip() for line in str(err).splitlines() if "Unsupported" in line), str(err)[:300])
        raise UnsafeCheckpointError(
            f"{path}: refused to unpickle it: it asks for more than tensors and plain "
            f"state ({reason}). Do not resume from a checkpoint you did not write."
        ) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointFileError(
            f"{path}: cannot be read, truncated or corrupt ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''})"
        ) from None


def install_safe_loader(engine) -> None:
    """Route every file DeepSpeed's ``load_checkpoint`` reads through :func:`safe_torch_load`.

    DeepSpeed reads the model states, the ZeRO optimizer partitions and the expert files with
    ``engine.checkpoint_engine.load``, whose torch engine unpickles with ``weights_only=False``.
    """
    from deepspeed.runtime.checkpoint_engine.torch_checkpoint_engine import TorchCheckpointEngine

    checkpoint_engine = engine.checkpoint_engine
    if not isinstance(checkpoint_engine, TorchCheckpointEngine):
        raise CheckpointFileError(
            f"DeepSpeed checkpoint engine {type(checkpoint_engine).__name__} is not supported: "
            "only the torch engine's files can be loaded safely (remove the checkpoint "
            "engine settings from train.deepspeed)"
        )
    checkpoint_engine.load = safe_torch_load
