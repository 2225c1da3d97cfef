"""Find a sample's media file under the media root: each candidate folder (a known layout: the
dataset's release, the official MokA layout) with each real extension, first hit wins; what was
used is counted for the report. Folder listings are read once and cached (no stat per row)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

EXTENSIONS = {
    "audio": (".wav", ".mp3", ".flac", ".m4a", ".mp4"),  # .mp4 last: the audio track of the clip itself
    "speech": (".wav", ".flac", ".mp3", ".m4a"),
    "video": (".mp4", ".mkv", ".webm", ".avi"),
    "image": (".jpg", ".png", ".jpeg"),
}


class MediaLookup:
    def __init__(self, media_root: Path, kind: str, folders: Sequence[str], extensions: Sequence[str] | None = None):
        if kind not in EXTENSIONS:
            raise ValueError(f"unknown media kind {kind!r}; choose from {', '.join(EXTENSIONS)}")
        self.root, self.kind = Path(media_root), kind
        self.folders = [f.strip("/") for f in folders] or [""]
        self.extensions = tuple(extensions or EXTENSIONS[kind])
        self.used: Counter[str] = Counter()  # "folder/*.ext" -> rows, and "missing"
        self._listings: dict[Path, frozenset[str]] = {}

    def path(self, *names: str) -> str:
        """The relative path of the first of ``names`` found (each a stem such as a video id, a
        relative stem such as ``<aid>/<sid>``, or a file name whose own extension is tried first),
        folder by folder. When nothing exists, the first candidate is returned (and reported
        missing by the conversion)."""
        for folder in self.folders:
            for name in names:
                for candidate in self._names(name):
                    if self._exists(self._join(folder, candidate)):
                        nested = "<sub>/" if "/" in name.strip("./") else ""
                        self.used[f"{folder or '.'}/{nested}*{PurePosixPath(candidate).suffix}"] += 1
                        return self._join(folder, candidate)
        self.used["missing"] += 1
        return self._join(self.folders[0], self._names(names[0])[0])

    def _names(self, name: str) -> list[str]:
        stem, suffix = os.path.splitext(name)
        if suffix.lower() in self.extensions or suffix.lower() in _ALL_EXTENSIONS:
            return [name] + [stem + ext for ext in self.extensions if ext != suffix.lower()]
        return [name + ext for ext in self.extensions]

    @staticmethod
    def _join(folder: str, name: str) -> str:
        return PurePosixPath(folder, name).as_posix() if folder else PurePosixPath(name).as_posix()

    def _exists(self, rel: str) -> bool:
        full = self.root / rel
        parent = full.parent
        if parent not in self._listings:
            try:
                self._listings[parent] = frozenset(os.listdir(parent))
            except OSError:
                self._listings[parent] = frozenset()
        return full.name in self._listings[parent]


_ALL_EXTENSIONS = frozenset(ext for exts in EXTENSIONS.values() for ext in exts) | {".webm", ".avi", ".mkv"}
