"""SEED-Bench: multiple choice (A-D) over image and video dimensions, parsed as MMBench is
(official: ``eval_seed.py`` applies ``eval_mmbench.py``'s rule to the raw decoded text).

Accuracy over all rows plus per evaluation dimension (``dimension``, or SEED's
``question_type_id``). Video questions are answered from their first frame at generation time;
scoring does not care.
"""

from __future__ import annotations

from .mmbench import multiple_choice
from .rows import scores_rows


@scores_rows("seed")
def score(rows: list[dict], mode: str = "official") -> dict:
    out = multiple_choice("seed", rows, mode, by=dimension, breakdown="dimensions")
    out.pop("_correct")
    return out


def dimension(row: dict) -> str:
    return str(row.get("dimension") or row.get("question_type_id") or "?")
