"""SEED-Bench: multiple choice (A-D) over image and video dimensions, parsed as MMBench is.

Accuracy over all rows plus per evaluation dimension (``dimension``, or SEED's
``question_type_id``). Video questions are answered from their first frame at generation time;
scoring does not care.
"""

from __future__ import annotations

from .mmbench import _without_private, multiple_choice


def score(rows: list[dict], mode: str = "official") -> dict:
    return _without_private(multiple_choice("seed", rows, mode, by=dimension, breakdown="dimensions"))


def dimension(row: dict) -> str:
    return str(row.get("dimension") or row.get("question_type_id") or "?")
