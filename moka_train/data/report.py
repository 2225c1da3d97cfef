"""DataReport: what was skipped and why, written as JSON next to the run.

Counts are per reason and deduplicated by sample id, so a sample whose video fails in every
epoch is counted once. Media failures found inside DataLoader workers travel to the main
process in the batch (``batch["bad_samples"]``) and are merged with :meth:`DataReport.update`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


class DataQualityError(RuntimeError):
    """Too many bad samples (above ``data.max_bad_fraction``)."""


@dataclass
class DataReport:
    split: str = "train"
    total: int = 0  # samples read from the file (after multi-turn splitting)
    bad: dict[str, dict[str, dict]] = field(default_factory=dict)  # reason -> id -> details
    # samples used but altered, e.g. audio longer than the windows reach: reason -> id -> details
    notes: dict[str, dict[str, dict]] = field(default_factory=dict)

    def add(self, reason: str, sample_id: str, source: str = "?", file: str | None = None, detail: str = "") -> None:
        entry = {"id": sample_id, "source": source, "detail": detail}
        if file is not None:
            entry["file"] = file
        self.bad.setdefault(reason, {}).setdefault(sample_id, entry)

    def note(self, reason: str, sample_id: str, detail: str = "") -> None:
        self.notes.setdefault(reason, {}).setdefault(sample_id, {"id": sample_id, "detail": detail})

    def update(self, entries: list[dict]) -> None:
        """Merge entries as they come in a batch (``{"reason", "id", ...}`` dicts; ``"note": True``
        marks a used-but-altered sample, not a bad one)."""
        for e in entries:
            if e.get("note"):
                self.note(e["reason"], e["id"], e.get("detail", ""))
            else:
                self.add(e["reason"], e["id"], e.get("source", "?"), e.get("file"), e.get("detail", ""))

    @property
    def counts(self) -> dict[str, int]:
        return {reason: len(ids) for reason, ids in sorted(self.bad.items())}

    @property
    def num_bad(self) -> int:
        return len({sid for ids in self.bad.values() for sid in ids})

    def bad_fraction(self) -> float:
        return self.num_bad / self.total if self.total else 0.0

    def check(self, max_bad_fraction: float) -> None:
        """Abort when too much of the data is bad: silently training on a fraction is worse."""
        if self.total and self.bad_fraction() > max_bad_fraction:
            raise DataQualityError(
                f"{self.split}: {self.num_bad} of {self.total} samples are bad ({self.bad_fraction():.1%} > "
                f"data.max_bad_fraction={max_bad_fraction:.1%}); by reason: {self.counts}. "
                f"First: {self.examples(3)}"
            )

    def examples(self, n: int) -> list[dict]:
        return [e for ids in self.bad.values() for e in ids.values()][:n]

    def to_dict(self) -> dict:
        return {
            "split": self.split,
            "total": self.total,
            "num_bad": self.num_bad,
            "counts": self.counts,
            "bad": {reason: list(ids.values()) for reason, ids in sorted(self.bad.items())},
            "notes": {reason: list(ids.values()) for reason, ids in sorted(self.notes.items())},
        }

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path
