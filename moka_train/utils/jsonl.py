"""JSON Lines, one JSON object a line: the one reader and the two writers the package uses.

Reading skips blank lines and names the file and line number of a line that is not a JSON
object; each caller passes its own error type and what it calls a line, so the message speaks
its language ("a record", "a predictions row"). Writing comes in two forms:

* :func:`write_jsonl` replaces a whole file atomically (a temporary file beside it, then a
  rename), so a reader sees the old rows or the new ones, never half a file;
* :func:`append_jsonl` adds rows at the end in one write, so a process killed between calls
  loses at most the rows of the call in flight (and at worst leaves one torn last line).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path


class JsonlError(ValueError):
    """A line that is not a JSON object; the message names file and line."""


def parse_object(text: str, source: str, error: type[Exception] = JsonlError, what: str = "a line") -> dict:
    """One line as a dict; ``source`` ("file:line") and ``what`` name it in the error."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise error(f"{source}: not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(obj, dict):
        raise error(f"{source}: {what} must be a JSON object, got {type(obj).__name__}")
    return obj


def read_lines(
    path: str | Path, missing: type[Exception] = FileNotFoundError, file_kind: str = "JSONL file"
) -> list[tuple[int, str]]:
    """``(line number, text)`` of every non-blank line (numbers count blank lines too)."""
    path = Path(path)
    if not path.is_file():
        raise missing(f"{file_kind} not found: {path}")
    return [(lineno, line) for lineno, line in numbered_lines(path.read_text(encoding="utf-8")) if line.strip()]


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
        for lineno, line in read_lines(path, missing, file_kind)
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
