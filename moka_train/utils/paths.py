"""Confine user-supplied relative paths to a configured root.

The rule is about the path as the JSONL writes it: it must be relative and must not contain
``..``. Symlinks *inside* the root are followed wherever they point: on clusters a data root is
often a folder of links to dataset folders on other file systems, and those links were made by
whoever set up the root, not by the JSONL. So ``video/x.mp4`` is fine even when ``video`` links
to ``/datasets/avqa/video``, while ``../x.mp4`` and ``/etc/passwd`` are refused.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath


class UnsafePathError(ValueError):
    pass


def resolve_under(root: str | Path, relative: str, sample_id: str = "?") -> Path:
    """``root / relative``, refusing absolute paths and ``..`` components (names the sample)."""
    rel = PurePosixPath(relative)
    if rel.is_absolute() or Path(relative).is_absolute():
        raise UnsafePathError(
            f"sample {sample_id}: media path {relative!r} is absolute; use a path relative to data.root"
        )
    if ".." in rel.parts:
        raise UnsafePathError(
            f"sample {sample_id}: media path {relative!r} contains '..', which could leave "
            f"data.root {str(root)!r}; write it relative to data.root without '..'"
        )
    return Path(root).resolve() / rel
