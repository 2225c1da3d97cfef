"""Frozen-encoder feature cache: encode every media file once, reuse the features every epoch.

An entry is keyed by the media file's *content* (sha256 of its bytes), the encoder's identity
(type, checkpoint path, size and mtime, feature layer) and the preprocessing that produced the
encoder input (the modality's whole sampling plan: frame count and position, audio window count,
length, placement, lead, time unit, sample rate; and the image size). Entries are single safetensors
files, sharded by hash prefix and memory-mapped on read:

    <cache>/<modality>/<identity hash>/<content hash[:2]>/<content hash>.safetensors

Each file carries its keys and a checksum of the tensor bytes in its metadata. A missing entry is
a miss (the caller decodes and encodes as usual); a stale or corrupt entry is reported, deleted
and treated as a miss: never silently used.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open

from ..config.schema import DataConfig, ModalityConfig
from ..utils.hashing import file_sha256
from ..utils.logging import get_logger
from ..utils.weights_format import save_safetensors

log = get_logger(__name__)
TENSOR = "features"


def encoder_identity(modality: ModalityConfig, data: DataConfig) -> str:
    """Everything that changes the features of one media file, as one string."""
    enc = modality.encoder
    ckpt = Path(enc.path)
    stat = ckpt.stat() if ckpt.exists() else None
    size_mtime = f"{stat.st_size}:{stat.st_mtime_ns}" if stat else "missing"
    plan = modality.sampling_plan()
    return (
        f"{enc.type}|{ckpt.resolve()}|{size_mtime}|layer={enc.layer}|model={enc.model_name}|"
        f"image={data.image_size}|{plan!r}"
    )


def _tensor_checksum(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.contiguous().view(torch.uint8).numpy().tobytes()).hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    rejected: list[dict] = field(default_factory=list)  # stale or corrupt entries, with the reason


class FeatureCache:
    """Per-modality feature store; ``identities`` maps modality name -> :func:`encoder_identity`."""

    def __init__(self, root: str | Path, identities: dict[str, str]) -> None:
        self.root = Path(root)
        self.identities = identities
        self.stats = CacheStats()
        self._hashes: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> content hash

    def content_hash(self, media_path: str | Path) -> str:
        """sha256 of the file's bytes, read once per process while size and mtime stay the same
        (each epoch would otherwise re-read every media file just to find its entry)."""
        stat = os.stat(media_path)
        key = (str(media_path), stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = file_sha256(media_path)
        return self._hashes[key]

    def entry_path(self, name: str, content: str) -> Path:
        identity = hashlib.sha256(self.identities[name].encode()).hexdigest()[:16]
        return self.root / name / identity / content[:2] / f"{content}.safetensors"

    def load(self, name: str, media_path: str | Path) -> torch.Tensor | None:
        """Features of one media file, or None (a miss, or a rejected entry)."""
        if name not in self.identities:
            return None
        content = self.content_hash(media_path)
        path = self.entry_path(name, content)
        if not path.is_file():
            self.stats.misses += 1
            self._report_other_identities(name, path)
            return None
        problem, tensor = self._read(path, name, content)
        if problem:
            self._reject(path, media_path, problem)
            return None
        self.stats.hits += 1
        return tensor

    def store(self, name: str, media_path: str | Path, features: torch.Tensor) -> Path:
        """Write atomically (aside, then renamed), so a crash never leaves a half entry."""
        content = self.content_hash(media_path)
        path = self.entry_path(name, content)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensor = features.detach().to("cpu").contiguous()
        meta = {"identity": self.identities[name], "content": content, "checksum": _tensor_checksum(tensor)}
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        save_safetensors({TENSOR: tensor}, tmp, metadata=meta)
        os.replace(tmp, path)
        return path

    def _read(self, path: Path, name: str, content: str) -> tuple[str | None, torch.Tensor | None]:
        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = fh.metadata() or {}
                tensor = fh.get_tensor(TENSOR)
        except Exception as err:  # truncated or garbled file
            return f"unreadable ({type(err).__name__}: {err})", None
        if meta.get("identity") != self.identities[name] or meta.get("content") != content:
            return "stale (encoder, preprocessing or media changed)", None
        if meta.get("checksum") != _tensor_checksum(tensor):
            return "corrupt (checksum mismatch)", None
        return None, tensor

    def _report_other_identities(self, name: str, path: Path) -> None:
        """Entries of this media under another encoder identity are stale for this run: say so."""
        for other in (self.root / name).glob(f"*/{path.parent.name}/{path.name}"):
            self.stats.rejected.append({"entry": str(other), "reason": "stale (other encoder or preprocessing)"})

    def _reject(self, path: Path, media_path, reason: str) -> None:
        log.warning("feature cache entry %s for %s rejected: %s; recomputing", path, media_path, reason)
        self.stats.rejected.append({"entry": str(path), "media": str(media_path), "reason": reason})
        self.stats.misses += 1
        path.unlink(missing_ok=True)


def cache_for(modalities: list[ModalityConfig], data: DataConfig) -> FeatureCache | None:
    """The configured cache over the frozen encoders, or None when caching is off. An encoder that
    trains is refused: its cached features would be those of its first step."""
    if data.feature_cache is None:
        return None
    unfrozen = [m.name for m in modalities if not m.encoder.frozen]
    if unfrozen:
        raise ValueError(
            f"data.feature_cache={data.feature_cache!r}: the encoders of {unfrozen} train "
            "(model.modalities[].encoder.frozen: false), so cached features would be stale; "
            "unset data.feature_cache or freeze them"
        )
    identities = {m.name: encoder_identity(m, data) for m in modalities}
    return FeatureCache(data.feature_cache, identities)
