"""MMAU test-mini, speech subset: four-option questions about speech clips; accuracy.

Official: MMAU's published string match: correct when every word of the true option occurs in
the answer and no word that belongs only to the other options does (an answer saying none of the
options is unparsed). Strict: a leading option letter, or exactly one option named
(``common.option_strict``). Breakdown per ``category`` (MMAU's skill) and ``difficulty``.
"""

from __future__ import annotations

import re

from .common import accuracy_by, accuracy_result, check_mode, option_strict, option_texts, require
from .rows import scores_rows


@scores_rows("mmau_speech")
def score(rows: list[dict], mode: str = "official") -> dict:
    check_mode(mode)
    correct, unparsed = [], 0
    for row in rows:
        truth, options = str(require(row, "answer")), option_texts(row)
        if mode == "official":
            ok, readable = string_match(row["prediction"], truth, options)
        else:
            picked = option_strict(row["prediction"], options)
            ok, readable = picked is not None and picked.strip().lower() == truth.strip().lower(), picked is not None
        correct.append(ok)
        unparsed += not readable
    categories = accuracy_by(rows, correct, lambda r: str(r.get("category", "?")))
    difficulty = accuracy_by(rows, correct, lambda r: str(r.get("difficulty", "?")))
    return accuracy_result(
        "mmau_speech", correct, len(rows), unparsed, mode, categories=categories, difficulty=difficulty
    )


def string_match(prediction: str, truth: str, options: list[str]) -> tuple[bool, bool]:
    """(correct, readable): the truth's words all present, none of the other options' own words."""
    said, wanted = _words(prediction), _words(truth)
    others = set().union(*(_words(o) for o in options if _words(o) != wanted)) - wanted
    mentions_any = any(_words(o) and _words(o) <= said for o in options)
    return bool(said) and wanted <= said and said.isdisjoint(others), mentions_any


def _words(text: str) -> set[str]:
    return set(re.findall(r"\b\w+\b", text.lower()))
