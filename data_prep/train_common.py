"""Helpers shared by the training-set converters (convert_*_train.py, convert_llava_instruct.py, ...).

Every converter writes the unified JSONL (DESIGN §5: media paths relative to the data root) and
prints one JSON line of counts, so a run log says how many samples were written and which media
files were missing (those samples are still written unless ``--drop-missing``: the training
run's bad-sample policy decides, and counts them again).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

AV_PROMPT = "This is a video:\n<video>\nThis is an audio:\n<audio>\nPlease answer this question: {q}"
IMAGE_LEAD_IN = "This is an image:\n<image>\n"


@dataclass
class Conversion:
    """Rows plus what happened on the way."""

    name: str
    media_root: Path
    rows: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # media paths (relative) that do not exist
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count

    def add(self, row: dict, media: dict[str, str], drop_missing: bool = False) -> None:
        absent = [rel for rel in media.values() if not (self.media_root / rel).is_file()]
        self.missing += absent
        if absent and drop_missing:
            self.skip("missing_media")
            return
        self.rows.append({"id": row.pop("id"), **media, **row})

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def summary(self) -> dict:
        return {"converter": self.name, "written": len(self.rows), "missing_media": len(self.missing),
                "missing_examples": self.missing[:5], "skipped": self.skipped}

    def write(self, out: Path) -> dict:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.rows))
        return {**self.summary(), "out": str(out)}


def conversation(prompt: str, answer: str) -> list[dict]:
    return [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}]


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--input", type=Path, required=True, help="the dataset's raw annotation file or folder")
    parser.add_argument("--media-root", type=Path, required=True, help="the data.root that media paths are relative to")
    parser.add_argument("--out", type=Path, required=True, help="output JSONL")
    parser.add_argument("--drop-missing", action="store_true", help="leave out samples whose media is missing")
    return parser


def report(result: dict) -> int:
    print(json.dumps(result))  # noqa: T201 - a CLI's one line of counts
    return 0
