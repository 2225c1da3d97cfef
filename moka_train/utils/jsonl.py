"""JSON Lines, one JSON object a line: the one reader and the two writers the package uses.

Reading skips blank lines and names the file and line number of a line that is not a JSON
object; each caller passes its own error type and what it calls a line, so the message speaks
its language ("a record", "a predictions row"). Lines are read as bytes and bounded before they
are decoded: :func:`scan_lines` reports a line over ``max_line_bytes`` (never held whole) or not
UTF-8 as a :class:`LineProblem` (file:line) for the caller's bad-sample policy, and
:func:`read_lines` raises :class:`JsonlError` naming it. Writing comes in two forms:

* :func:`write_jsonl` replaces a whole file atomically (a temporary file beside it, then a
  rename), so a reader sees the old rows or the new ones, never half a file;
* :func:`append_jsonl` adds rows at the end in one write, so a process killed between calls
  loses at most the rows of the call in flight (and at worst leaves one torn last line).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class JsonlError(ValueError):
    """A line that is not a JSON object; the message names file and line."""


def parse_object(text: str, source: str, error: type[Exception] = JsonlError, what: str = "a line") -> dict:
    """One line as a dict; ``source`` ("file:line") and ``what`` name it in the error."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise error(f"{source}: not valid JSON ({err.msg} at column {err.colno})") from None
    except RecursionError:
        raise error(f"{source}: nested too deeply to be {what}") from None
    if not isinstance(obj, dict):
        raise error(f"{source}: {what} must be a JSON object, got {type(obj).__name__}")
    return obj


_CHUNK = 1 << 20  # bytes read at a time while skipping the rest of an over-long line


@dataclass(frozen=True)
class LineProblem:
    """A line that was not decoded: ``reason`` is ``line_too_long`` or ``invalid_utf8``."""

    lineno: int
    reason: str
    detail: str


def scan_lines(
    path: str | Path,
    max_line_bytes: int | None = None,
    missing: type[Exception] = FileNotFoundError,
    file_kind: str = "JSONL file",
) -> list[tuple[int, str | LineProblem]]:
    """``(line number, text or LineProblem)`` of every non-blank line, split at ``\n`` only (JSON
    may hold U+2028 raw inside a string). A line over ``max_line_bytes`` is skipped in chunks,
    never held whole, and never decoded."""
    path = Path(path)
    if not path.is_file():
        raise missing(f"{file_kind} not found: {path}")
    out: list[tuple[int, str | LineProblem]] = []
    with path.open("rb") as fh:
        lineno = 0
        while True:
            raw = fh.readline(max_line_bytes + 1 if max_line_bytes is not None else -1)
            if not raw:
                return out
            lineno += 1
            if max_line_bytes is not None and len(raw.rstrip(b"\r\n")) > max_line_bytes:
                size = len(raw) + _skip_line(fh, raw)
                detail = f"{path}:{lineno}: line of {size} bytes or more, above the {max_line_bytes} byte limit"
                out.append((lineno, LineProblem(lineno, "line_too_long", detail)))
                continue
            try:
                text = raw.decode("utf-8").removesuffix("\n")
            except UnicodeDecodeError as err:
                detail = f"{path}:{lineno}: not UTF-8 (byte {raw[err.start]:#04x} at column {err.start + 1})"
                out.append((lineno, LineProblem(lineno, "invalid_utf8", detail)))
                continue
            if text.strip():
                out.append((lineno, text))


def _skip_line(fh, raw: bytes) -> int:
    """Read past the rest of a line already cut at ``raw``; the bytes skipped."""
    skipped = 0
    while not raw.endswith(b"\n"):
        raw = fh.readline(_CHUNK)
        if not raw:
            break
        skipped += len(raw)
    return skipped


def read_lines(
    path: str | Path,
    missing: type[Exception] = FileNotFoundError,
    file_kind: str = "JSONL file",
    error: type[Exception] | None = None,
) -> list[tuple[int, str]]:
    """``(line number, text)`` of every non-blank line (numbers count blank lines too); a line that
    is not UTF-8 raises ``error`` (default :class:`JsonlError`) naming file and line."""
    lines = []
    for lineno, line in scan_lines(path, None, missing, file_kind):
        if isinstance(line, LineProblem):
            raise (error or JsonlError)(line.detail)
        lines.append((lineno, line))
    return lines


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """Lines split at ``\n`` only: JSON may hold U+2028 or U+0085 raw inside a string, where
    ``str.splitlines`` would cut a row in two."""
    lines = text.split("\n")
    if lines[-1] == "":  # the newline that ends the last line starts no line of its own
        lines.pop()
    return list(enumerate(lines, start=1))


def read_objects(
    path: str | Path,
    error: type[Exception] = JsonlError,
    what: str = "a line",
    missing: type[Exception] = FileNotFoundError,
    file_kind: str = "JSONL file",
) -> list[tuple[int, dict]]:
    """``(line number, object)`` of every non-blank line; a bad line raises ``error``."""
    return [
        (lineno, parse_object(line, f"{path}:{lineno}", error, what))
        for lineno, line in read_lines(path, missing, file_kind, error)
    ]


def _lines(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    """Replace ``path`` with ``rows`` atomically (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_lines(rows), encoding="utf-8")
    tmp.replace(path)
    return path


def append_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    """Add ``rows`` at the end of ``path`` (created if absent) in one write, flushed on return."""
    path = Path(path)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(_lines(rows))
    return path
