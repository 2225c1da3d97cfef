"""Small helpers any data_prep converter may use: JSONL writing, a counts report with the
missing media files, and the shared command line (--input / --output / --media-root)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path

MEDIA_KEYS = ("image", "video", "audio", "speech")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """One JSON object per line (UTF-8, non-ASCII kept); returns the number of rows written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def media_report(rows: list[dict], media_root: str | Path, media_keys: tuple[str, ...] = MEDIA_KEYS) -> dict:
    """Rows written, media files referenced, and which of them do not exist under ``media_root``
    (rows are kept either way: a converter reports, the evaluation run decides)."""
    root = Path(media_root)
    referenced = [row[k] for row in rows for k in media_keys if row.get(k)]
    missing = sorted({rel for rel in referenced if not (root / rel).is_file()})
    return {"rows": len(rows), "media_files": len(set(referenced)), "missing_media": len(missing),
            "missing_examples": missing[:5]}


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--input", type=Path, required=True, help="the dataset's published annotation file or folder")
    parser.add_argument("--output", type=Path, required=True, help="the unified evaluation JSONL to write")
    parser.add_argument("--media-root", type=Path, required=True, help="the root that media paths are relative to")
    return parser


def finish(rows: list[dict], args: argparse.Namespace, name: str) -> dict:
    """Write the rows, print the report as one JSON line (converters are scripts), return it."""
    write_jsonl(args.output, rows)
    report = {"converter": name, "output": str(args.output), **media_report(rows, args.media_root)}
    print(json.dumps(report))
    return report


def relative_to_root(path: Path, media_root: Path) -> str:
    """A media path relative to the root; a file outside it is an error (eval rows must stay portable)."""
    try:
        return path.resolve().relative_to(media_root.resolve()).as_posix()
    except ValueError:
        raise ValueError(f"{path} is not under --media-root {media_root}") from None


def human_turn(prompt: str) -> list[dict]:
    """The conversation of an evaluation row: the prompt only (the truth lives in ``answer``)."""
    return [{"from": "human", "value": prompt}]


def lettered_options(options: list[str]) -> str:
    """"(A) x\\n(B) y ..." as the official multiple-choice prompts list them."""
    return "\n".join(f"({'ABCDEFGH'[i]}) {text}" for i, text in enumerate(options))


IMAGE_LEAD_IN = "This is an image:\n<image>\n"
AV_LEAD_IN = "This is a video:\n<video>\nThis is an audio:\n<audio>\n"
SPEECH_LEAD_IN = "This is a speech:\n<speech>\n"
CHOICE_INSTRUCTION = "Output only the selected option in the format (A), (B), (C), or (D)."
