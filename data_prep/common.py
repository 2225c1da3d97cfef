"""The converter library every ``data_prep/convert_*.py`` uses: the shared command line, input
reading with errors that name the file, media lookup over the known layouts, the template filler,
and the conversion record that ends every run with ONE JSON report line.

Report: ``read`` input rows, ``written`` rows, ``skipped`` {reason: count} (read == written +
skipped, checked), ``missing_media`` (distinct files; ``rows_missing_media`` rows) with examples
(rows are kept unless ``--drop-missing``: the training run's bad-sample policy or the evaluation
decides), ``media_layouts`` (which folder and
extension each kind was found in). The exit status is non-zero when nothing was written.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from media_lookup import MediaLookup

MEDIA_KINDS = ("image", "video", "audio", "speech")
DUPLICATE_POLICIES = ("fail", "keep-first", "number")


class ConversionError(ValueError):
    """An input the converter cannot use (wrong format, bad field, duplicate id); names file and row."""


class Conversion:
    """Rows plus what happened on the way: every input row is written or skipped under a reason."""

    def __init__(
        self, name: str, media_root: Path, lookups: dict[str, MediaLookup] | None = None, duplicates: str = "fail"
    ):
        if duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f"duplicates={duplicates!r}; choose from {', '.join(DUPLICATE_POLICIES)}")
        self.name, self.media_root, self.duplicates = name, Path(media_root), duplicates
        self.lookups = lookups or {}
        self._seen: Counter[str] = Counter()  # row id -> times met
        self.rows: list[dict] = []
        self.read = 0
        self.skipped: Counter[str] = Counter()
        self.missing: list[str] = []
        self.rows_missing = 0
        self.notes: dict[str, object] = {}  # converter-specific facts for the report

    def add(self, row: dict, media: dict[str, str], drop_missing: bool = False) -> None:
        """One input row becomes ``row`` with its media paths (relative to the media root)."""
        if not self._unique_id(row):
            return
        absent = [rel for rel in media.values() if not (self.media_root / rel).is_file()]
        self.missing += absent
        self.rows_missing += bool(absent)
        if absent and drop_missing:
            self.skip("missing_media")
            return
        self.rows.append({"id": row.pop("id"), **media, **row})

    def _unique_id(self, row: dict) -> bool:
        """Ids must be unique: ``fail`` stops naming the id, ``keep-first`` counts later rows as
        ``duplicate_id``, ``number`` renames the k-th to ``<id>#k`` (k >= 2)."""
        rid = str(row["id"])
        self._seen[rid] += 1
        times = self._seen[rid]
        if times == 1:
            return True
        if self.duplicates == "fail":
            raise ConversionError(
                f"{self.name}: row id {rid!r} occurs more than once in the input (see the converter's duplicate option)"
            )
        if self.duplicates == "keep-first":
            self.skip("duplicate_id")
            examples = self.notes.setdefault("duplicate_id_examples", [])
            examples += [rid] if len(examples) < 5 else []
            return False
        row["id"] = f"{rid}#{times}"
        return True

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] += count

    def report(self, output: Path | None = None) -> dict:
        if self.read != len(self.rows) + sum(self.skipped.values()):
            raise AssertionError(
                f"{self.name}: {self.read} rows read but {len(self.rows)} written + "
                f"{sum(self.skipped.values())} skipped"
            )  # a converter lost rows: a bug
        missing = list(dict.fromkeys(self.missing))  # distinct files, first met first
        layouts = {kind: dict(lookup.used) for kind, lookup in self.lookups.items() if lookup.used}
        return {
            "converter": self.name,
            "output": str(output) if output else None,
            "read": self.read,
            "written": len(self.rows),
            "skipped": dict(self.skipped),
            "missing_media": len(missing),
            "rows_missing_media": self.rows_missing,
            "missing_examples": missing[:5],
            "media_layouts": layouts,
            **self.notes,
        }


def write_jsonl(path: Path, rows: Sequence[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def base_parser(description: str, media: dict[str, str] | None = None) -> argparse.ArgumentParser:
    """--input, --output (--out: deprecated alias), --media-root, --drop-missing and one
    ``--<kind>-dir`` per media kind the converter reads (default: the known layouts, tried in order)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--input", type=Path, required=True, help="the dataset's published annotation file or folder")
    parser.add_argument(
        "--output",
        "--out",
        dest="output",
        type=Path,
        required=True,
        help="the unified JSONL to write (--out is a deprecated spelling)",
    )
    parser.add_argument("--media-root", type=Path, required=True, help="the root media paths are written relative to")
    parser.add_argument("--drop-missing", action="store_true", help="leave out rows whose media file is missing")
    for kind, default_help in (media or {}).items():
        parser.add_argument(
            f"--{kind}-dir",
            dest=f"{kind}_dir",
            action="append",
            default=None,
            help=f"{kind} folder under the media root (repeat to try several); default: {default_help}",
        )
    return parser


def lookups_from_args(args: argparse.Namespace, layouts: dict[str, tuple[str, ...]]) -> dict[str, MediaLookup]:
    """One lookup per kind: the folders given on the command line, else the converter's known layouts."""
    return {
        kind: MediaLookup(args.media_root, kind, getattr(args, f"{kind}_dir", None) or dirs)
        for kind, dirs in layouts.items()
    }


def run(
    convert: Callable[[argparse.Namespace], Conversion], parser: argparse.ArgumentParser, argv: list[str] | None = None
) -> int:
    """Parse, convert, write, print the one-line report; 0 when rows were written, 1 when none,
    2 when the input is unusable (the message names the file and row; no traceback)."""
    args = parser.parse_args(argv)
    try:
        conv = convert(args)
    except (ValueError, FileNotFoundError) as err:  # ConversionError, ScoringError, bad JSON
        print(f"{parser.prog}: error: {err}", file=sys.stderr)  # noqa: T201 - a CLI's error line
        return 2
    write_jsonl(args.output, conv.rows)
    print(json.dumps(conv.report(args.output)))  # noqa: T201 - the one report line
    if not conv.rows:
        print(f"{parser.prog}: error: nothing written (see 'skipped' in the report)", file=sys.stderr)  # noqa: T201
        return 1
    return 0


def cli(
    convert: Callable[[argparse.Namespace], Conversion],
    doc: str,
    media: dict[str, str] | None = None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> Callable[[list[str] | None], int]:
    """A converter's ``main(argv) -> exit status``: the shared parser (the first paragraph of ``doc``
    as its description, ``media`` the per-kind folder flags), ``extra`` adding the converter's own flags."""

    def main(argv: list[str] | None = None) -> int:
        parser = base_parser(" ".join(doc.split("\n\n")[0].split()), media)
        if extra:
            extra(parser)
        return run(convert, parser, argv)

    return main


def records(conv: Conversion, items: Sequence, fields: Sequence[str], source: object):
    """The input records one by one, each counted as read and checked for this format's fields."""
    for k, item in enumerate(items):
        conv.read += 1
        require_keys(item, fields, f"{source}: item {k}")
        yield item


def read_json(path: Path, expect: type, what: str) -> list | dict:
    """A JSON file whose top level must be ``expect`` (``list`` or ``dict``); else an error naming it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConversionError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}); expected {what}") from None
    if not isinstance(data, expect):
        raise ConversionError(f"{path}: top level is a {type(data).__name__}, expected {what}")
    return data


def read_json_lines(path: Path) -> list[dict]:
    items = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ConversionError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
    return items


def require_keys(item: dict, keys: Sequence[str], where: str) -> None:
    """The fields a record of this format must carry; a record without them is the wrong format."""
    if not isinstance(item, dict):
        raise ConversionError(f"{where}: expected a JSON object, got {type(item).__name__}")
    absent = [k for k in keys if k not in item]
    if absent:
        raise ConversionError(
            f"{where}: missing field(s) {absent}; this format needs {list(keys)} (found {sorted(item)[:12]})"
        )


def relative_to_root(path: Path, media_root: Path) -> str:
    """A media path relative to the root; a file outside it is an error (rows must stay portable)."""
    try:
        return Path(path).resolve().relative_to(Path(media_root).resolve()).as_posix()
    except ValueError:
        raise ConversionError(f"{path} is not under --media-root {media_root}; pass the folder that holds it") from None


def list_field(value: object, where: str) -> list:
    """A list stored as itself or as a string (MUSIC-AVQA keeps ``templ_values`` and ``type`` as
    JSON text; the official loaders parse it with ``ast.literal_eval``, which also reads 'x' quotes)."""
    if isinstance(value, list):
        return value
    try:
        parsed = ast.literal_eval(value) if isinstance(value, str) else None
    except (ValueError, SyntaxError):
        parsed = None
    if not isinstance(parsed, list):
        raise ConversionError(f"{where}: expected a list or a list literal, got {value!r}")
    return parsed


_SLOT = re.compile(r"<[^<>]+>")


def fill_template(question: str, values: list[str], where: str) -> str:
    """Replace the k-th ``<Slot>`` with the k-th value (MUSIC-AVQA's templates); a count mismatch is an error."""
    slots = _SLOT.findall(question)
    if len(slots) != len(values):
        raise ConversionError(
            f"{where}: question {question!r} has {len(slots)} slots but {len(values)} values {values}"
        )
    remaining = iter(values)
    return _SLOT.sub(lambda _m: str(next(remaining)), question)


def conversation(prompt: str, answer: str | None = None) -> list[dict]:
    """An evaluation row holds the prompt only (the truth lives in ``answer``); a training row both turns."""
    turns = [{"from": "human", "value": prompt}]
    return turns + [{"from": "gpt", "value": answer}] if answer is not None else turns
