"""Confine user-supplied relative paths to a configured root."""

from __future__ import annotations

from pathlib import Path, PurePosixPath


class UnsafePathError(ValueError):
    pass


def resolve_under(root: str | Path, relative: str, sample_id: str = "?") -> Path:
    """``root / relative``, refusing absolute paths and ``..`` escapes (names the sample)."""
    rel = PurePosixPath(relative)
    if rel.is_absolute() or Path(relative).is_absolute():
        raise UnsafePathError(f"sample {sample_id}: media path {relative!r} is absolute; use a path relative to data.root")
    root = Path(root).resolve()
    full = (root / relative).resolve()
    if root != full and root not in full.parents:
        raise UnsafePathError(f"sample {sample_id}: media path {relative!r} escapes data.root {str(root)!r}")
    return full
