"""MUSIC-AVQA: open answers from a closed 42-word vocabulary, scored per question type.

The prediction must hold exactly one ``<answer>X</answer>`` whose X (lowercased, ``_`` read as a
space) is one of :data:`ANSWERS`. Official: a row whose answer cannot be read that way is
*dropped from numerator and denominator* (official files: 77.76 with 9059 of 9129 parsed), and a
row is correct when the truth is a *substring* of X (so "more than ten" is right for "ten").
Strict: unreadable rows count as wrong and X must equal the truth.

Question types come from ``type`` (the dataset's ``'["Audio", "Counting"]'`` string or a list) or
``question_type``; the breakdown holds each type and each modality group (Audio, Visual,
Audio-Visual) over the rows that were scored.
"""

from __future__ import annotations

import json
import re

from .common import accuracy_by, accuracy_result, check_mode, require
from .rows import scores_rows

INSTRUMENTS = (
    "accordion",
    "acoustic guitar",
    "bagpipe",
    "banjo",
    "bassoon",
    "cello",
    "clarinet",
    "congas",
    "drum",
    "electric bass",
    "erhu",
    "flute",
    "guzheng",
    "piano",
    "pipa",
    "saxophone",
    "suona",
    "trumpet",
    "tuba",
    "ukulele",
    "violin",
    "xylophone",
)
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "more than ten")
ANSWERS = frozenset(
    INSTRUMENTS + NUMBERS + ("yes", "no", "left", "right", "middle", "indoor", "outdoor", "simultaneously")
)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S)


@scores_rows("music_avqa")
def score(rows: list[dict], mode: str = "official") -> dict:
    check_mode(mode)
    answers = [parse_answer(r["prediction"]) for r in rows]
    unparsed = answers.count(None)
    scored = [(r, a) for r, a in zip(rows, answers) if a is not None or mode == "strict"]
    correct = [is_correct(a, normalise(str(require(r, "answer"))), mode) for r, a in scored]
    kept = [r for r, _ in scored]
    return accuracy_result(
        "music_avqa",
        correct,
        len(rows),
        unparsed,
        mode,
        n_scored=len(kept),
        question_types=accuracy_by(kept, correct, question_type),
        modalities=accuracy_by(kept, correct, lambda r: question_type(r).split("/")[0]),
    )


def parse_answer(text: str) -> str | None:
    found = _ANSWER_TAG.findall(text)
    if len(found) != 1:
        return None
    answer = normalise(found[0])
    return answer if answer in ANSWERS else None


def is_correct(answer: str | None, truth: str, mode: str) -> bool:
    if answer is None:
        return False
    return truth in answer if mode == "official" else truth == answer  # official: substring match


def normalise(text: str) -> str:
    return " ".join(text.replace("_", " ").lower().split())


def question_type(row: dict) -> str:
    """ "Audio/Counting", "Audio-Visual/Temporal", ... from MUSIC-AVQA's ``type`` field."""
    raw = row.get("type") or row.get("question_type")
    if raw is None:
        return "?"
    parts = json.loads(raw) if isinstance(raw, str) and raw.startswith("[") else raw
    return "/".join(parts) if isinstance(parts, list) else str(parts)
