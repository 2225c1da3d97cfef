"""AVE: audio-visual event localisation, segment accuracy over 10 one-second slots per video.

Each slot holds a label: 0 for background, 1..28 for the event classes. The prediction needs
exactly one ``<event>NAME</event>`` naming a known class and at least one ``<range>s,e</range>``
(several allowed, all filled with that class; without any range tag the official fallback
``NAME (s e)`` is read). Ranges cover ``s..e`` *inclusive*, clipped to slots 0..9, for the
prediction and the truth alike (the official scripts do so; both modes keep it, it is part of the
metric's published figures).

Official quirk: an unparsable prediction leaves both its truth and its prediction slots at 0, so
its 10 slots count as correct (official files: 77.06 with 397 of 402 parsed). Strict: an
unparsable prediction scores 0 of its 10 slots (75.82 on the same files).

The truth is read from ``answer``: the official ``event:NAME start_time:s end_time:e`` form or the
tag form. An annotations file (AVE's ``Annotations.txt``, ``Category&VideoID&Quality&Start&End``)
gives the class list and, for rows without an answer, the truth by video id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .common import ScoringError, check_mode, percent, result
from .rows import scores_rows

SLOTS = 10
CLASSES = (
    "Church bell",
    "Male speech, man speaking",
    "Bark",
    "Fixed-wing aircraft, airplane",
    "Race car, auto racing",
    "Female speech, woman speaking",
    "Helicopter",
    "Violin, fiddle",
    "Flute",
    "Ukulele",
    "Frying (food)",
    "Truck",
    "Shofar",
    "Motorcycle",
    "Acoustic guitar",
    "Train horn",
    "Clock",
    "Banjo",
    "Goat",
    "Baby cry, infant cry",
    "Bus",
    "Chainsaw",
    "Cat",
    "Horse",
    "Toilet flush",
    "Rodents, rats, mice",
    "Accordion",
    "Mandolin",
)
_EVENT = re.compile(r"<event>(.*?)</event>", re.S)
_RANGE = re.compile(r"<range>\s*(\d+)\s*,\s*(\d+)\s*</range>")
_TRUTH = re.compile(r"event:\s*(.*?)\s+start_time:\s*(\d+)\s+end_time:\s*(\d+)")
_VIDEO_ID = re.compile(r"([^/\\]+?)(?:\.\w+)?$")

Event = tuple[str, list[tuple[int, int]]]  # class name, ranges


@scores_rows("ave")
def score(rows: list[dict], mode: str = "official", annotations: str | Path | None = None) -> dict:
    check_mode(mode)
    table = read_annotations(annotations) if annotations else {}
    classes = tuple(dict.fromkeys(name for name, _ in table.values())) if table else CLASSES
    correct, unparsed = 0, 0
    for row in rows:
        predicted = parse_prediction(row["prediction"], classes)
        if predicted is None:
            unparsed += 1
            correct += SLOTS if mode == "official" else 0  # all-zero truth == all-zero prediction
            continue
        truth = slots(truth_event(row, table), classes)
        correct += sum(t == p for t, p in zip(truth, slots(predicted, classes)))
    return result(
        "ave",
        "segment_accuracy",
        percent(correct, SLOTS * len(rows)),
        len(rows),
        unparsed,
        mode,
        n_parsed=len(rows) - unparsed,
        correct_slots=correct,
        total_slots=SLOTS * len(rows),
    )


def parse_prediction(text: str, classes: tuple[str, ...]) -> Event | None:
    events = [e.strip() for e in _EVENT.findall(text)]
    if len(events) != 1 or events[0] not in classes:
        return None
    ranges = [(int(s), int(e)) for s, e in _RANGE.findall(text)]
    if not ranges:  # official fallback form: "NAME (s e)"
        ranges = [(int(s), int(e)) for s, e in re.findall(re.escape(events[0]) + r"\s*\((\d+)\s+(\d+)\)", text)]
    return (events[0], ranges) if ranges else None


def truth_event(row: dict, table: dict[str, Event]) -> Event:
    answer = row.get("answer") or ""
    match = _TRUTH.search(answer)
    if match:
        return match.group(1).strip(), [(int(match.group(2)), int(match.group(3)))]
    events = [e.strip() for e in _EVENT.findall(answer)]
    if len(events) == 1:
        return events[0], [(int(s), int(e)) for s, e in _RANGE.findall(answer)]
    video = video_id(row)
    if video in table:
        return table[video]
    raise ScoringError(
        f"prediction row {row.get('id')!r}: no readable truth in 'answer' "
        f"{answer[:80]!r} and video {video!r} is not in the annotations"
    )


def slots(event: Event, classes: tuple[str, ...]) -> list[int]:
    name, ranges = event
    if name not in classes:
        raise ScoringError(f"truth event {name!r} is not one of the {len(classes)} AVE classes")
    label = classes.index(name) + 1
    filled = [0] * SLOTS
    for start, end in ranges:
        for t in range(max(start, 0), min(end, SLOTS - 1) + 1):  # inclusive end, as the official scripts
            filled[t] = label
    return filled


def video_id(row: dict) -> str:
    path = str(row.get("video") or row.get("video_path") or row.get("video_id") or "")
    match = _VIDEO_ID.search(path)
    return match.group(1) if match else ""


@dataclass(frozen=True)
class AveAnnotation:
    """One line of an AVE annotation file (``Annotations.txt``, ``trainSet.txt``, ``valSet.txt``,
    ``testSet.txt`` of YapengTian/AVE-ECCV18 share the form ``Category&VideoID&Quality&Start&End``)."""

    category: str
    video_id: str
    quality: str
    start: int
    end: int
    line: int  # 1-based line number in its file


def parse_annotations(text: str, source: str = "?") -> list[AveAnnotation]:
    """Every annotation line in file order (a video annotated twice gives two entries); blank
    lines and the ``Category&VideoID&...`` header some copies carry are passed over."""
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.strip().split("&")
        if not line.strip() or parts[0] == "Category":
            continue
        if len(parts) != 5:
            raise ScoringError(f"{source}:{lineno}: expected Category&VideoID&Quality&Start&End, got {line!r}")
        try:
            start, end = int(parts[3]), int(parts[4])
        except ValueError:
            raise ScoringError(f"{source}:{lineno}: start/end must be whole seconds, got {line!r}") from None
        out.append(AveAnnotation(parts[0], parts[1], parts[2], start, end, lineno))
    return out


def read_annotations(path: str | Path) -> dict[str, Event]:
    """video id -> (class, [(start, end)]); the first line of a video wins (45 AVE videos have two)."""
    path = Path(path)
    if not path.is_file():
        raise ScoringError(f"annotations file not found: {path}")
    table: dict[str, Event] = {}
    for entry in parse_annotations(path.read_text(encoding="utf-8"), str(path)):
        table.setdefault(entry.video_id, (entry.category, [(entry.start, entry.end)]))
    return table
