"""Evaluation progress: which rows a predictions file already holds, and whose rows they are.

A predictions file (and each rank's part file beside it) belongs to one evaluation, keyed by
(checkpoint, probe, benchmark, input, decoding budget, decoding mode and its seed). The key is
written beside the file as ``<output>.progress.json`` when generation starts, with the effective
decoding settings (``generation``: do_sample, temperature, top_p, ... as the model applied them):
the file's metadata. A rerun with the same key resumes; any other
rerun onto the same ``--output`` is refused, naming what differs.

Why refuse rather than start a new file: the user named ``--output`` (or the default name, which
already carries the benchmark and probe); quietly writing elsewhere would leave the named file
holding the old rows for whatever reads it next, and overwriting would throw finished work away.
Refusing costs one command and never mixes or discards rows.

The checkpoint and the input are identified by content (the export manifest's hash, the input
file's hash), so a moved export still resumes and a re-export at the same path does not.

A torn last line (the process died mid-write) is dropped with a warning naming the file, and the
file is rewritten without it so that later appends start on a fresh line; a bad line anywhere
else is damage, not a torn write, and is an error naming file and line.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..utils.hashing import file_sha256
from ..utils.jsonl import numbered_lines, parse_object, write_jsonl
from ..utils.logging import get_logger
from ..utils.weights_format import MANIFEST
from .decoding import LEGACY_IDENTITY

log = get_logger(__name__)
IDENTITY = ("checkpoint_sha256", "probe", "benchmark", "input_sha256", "max_new_tokens", "decoding")  # on resume


class ProgressError(ValueError):
    """Progress that cannot be resumed (another evaluation's rows, a damaged file); names the file."""


def progress_key(
    checkpoint: str | Path,
    probe: list[str] | None,
    benchmark: str | None,
    input_file: str | Path,
    max_new_tokens: int,
    decoding: dict | None = None,
) -> dict:
    """``decoding``: the decoding's identity (``Decoding.identity``; default greedy)."""
    checkpoint, input_file = Path(checkpoint), Path(input_file)
    manifest = checkpoint / MANIFEST
    return {
        "checkpoint": str(checkpoint.resolve()),
        "checkpoint_sha256": file_sha256(manifest) if manifest.is_file() else None,
        "probe": sorted(probe) if probe else "all",
        "benchmark": benchmark,
        "input": str(input_file.resolve()),
        "input_sha256": file_sha256(input_file),
        "max_new_tokens": max_new_tokens,
        "decoding": decoding or LEGACY_IDENTITY,
    }


def key_file(output: Path) -> Path:
    return output.with_name(output.name + ".progress.json")


def check_progress(output: Path, key: dict, parts: list[Path]) -> None:
    """Refuse to resume rows that another evaluation wrote (or whose origin is unknown)."""
    existing = [p for p in [output, *parts] if p.is_file()]
    stored_path = key_file(output)
    if not stored_path.is_file():
        if existing:
            raise ProgressError(
                f"{existing[0]} holds predictions but {stored_path.name} (which says what "
                f"evaluation wrote them) is missing, so they cannot be resumed safely; use another "
                f"--output or delete {', '.join(map(str, existing))} to start over"
            )
        return
    stored = json.loads(stored_path.read_text())
    stored.setdefault("decoding", LEGACY_IDENTITY)  # written before the decoding modes: greedy
    differ = [f"{k}: {stored.get(k)!r} there, {key[k]!r} now" for k in IDENTITY if stored.get(k) != key[k]]
    if differ:
        raise ProgressError(
            f"{output} holds predictions of another evaluation ({'; '.join(differ)}); "
            f"use another --output, or delete {output}, its .rank* parts and {stored_path.name} "
            "to start over"
        )


def write_key(output: Path, key: dict) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    key_file(output).write_text(json.dumps(key, indent=2) + "\n")


def read_rows(path: Path) -> dict[str, dict]:
    """id -> row of a predictions or part file; a torn last line is dropped (and cut from the file)."""
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    lines = numbered_lines(text)
    torn = bool(lines) and _is_torn(lines[-1][1])
    rows: dict[str, dict] = {}
    for lineno, line in lines[:-1] if torn else lines:
        if line.strip():
            row = _parse_row(line, f"{path}:{lineno}")
            rows[str(row["id"])] = row
    if torn:
        log.warning(
            "%s: dropped a half-written last line (%d characters, the write was cut off); "
            "its sample is generated again",
            path,
            len(lines[-1][1]),
        )
    if torn or (text and not text.endswith("\n")):  # later appends must start on a fresh line
        write_jsonl(path, rows.values())
    return rows


def _is_torn(line: str) -> bool:
    """A last line cut off mid-write is not JSON at all (a row's prefix never parses)."""
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return bool(line.strip())
    return False


def _parse_row(line: str, source: str) -> dict:
    try:
        row = parse_object(line, source, ProgressError, "a predictions row")
    except ProgressError as err:
        raise ProgressError(f"{err}; only a torn last line can be repaired, so delete the file to start over") from None
    if "id" not in row:
        raise ProgressError(f"{source}: a predictions row must be a JSON object with an 'id'")
    return row
