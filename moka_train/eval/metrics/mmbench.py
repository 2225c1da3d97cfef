"""MMBench (dev, legacy English TSV, no CircularEval): single-answer multiple choice.

Official (``eval_mmbench.py``): the text the official parser read is the raw decoded output,
special tokens kept (``"A </s>"``; see the protocol table's ``parser_reads``); it is stripped and
lowercased, then searched for ``'a '``, ``'b '``, ``'c '``, ``'d '``, ``'e '`` in that order
whatever options the question has (``common.choice_official``), and the row is right when the
lowercased truth occurs in ``"(x)"`` of the letter found; unparsable counts wrong. Strict: only a
leading option letter of the clean prediction is read. Accuracy over all rows, plus per
``category`` (and per ``l2-category`` when present). SEED-Bench reuses :func:`multiple_choice`
with its own grouping.
"""

from __future__ import annotations

from collections.abc import Callable

from ..protocol import get_protocol
from .common import accuracy_by, accuracy_result, check_mode, choice_official, choice_strict, require
from .rows import scores_rows

DEFAULT_LETTERS = "ABCD"
OFFICIAL_LETTERS = "ABCDE"  # the official check tries these five on every question


@scores_rows("mmbench")
def score(rows: list[dict], mode: str = "official") -> dict:
    out = multiple_choice("mmbench", rows, mode, by=lambda r: str(r.get("category", "?")), breakdown="categories")
    correct = out.pop("_correct")
    if any("l2-category" in r for r in rows):
        out["l2_categories"] = accuracy_by(rows, correct, lambda r: str(r.get("l2-category", "?")))
    return out


def multiple_choice(benchmark: str, rows: list[dict], mode: str, by: Callable[[dict], str], breakdown: str) -> dict:
    """Accuracy with unparsable answers wrong; the per-row verdicts stay in ``_correct``."""
    check_mode(mode)
    truths = [str(require(r, "answer")).strip() for r in rows]
    if mode == "official":
        reads_raw = get_protocol(benchmark).parser_reads == "raw"
        texts = [str(r.get("raw_prediction", r["prediction"])) if reads_raw else r["prediction"] for r in rows]
        predicted = [choice_official(text.strip(), OFFICIAL_LETTERS) for text in texts]
        correct = [p is not None and t.lower() in f"({p.lower()})" for p, t in zip(predicted, truths)]
    else:
        predicted = [choice_strict(r["prediction"], option_letters(r)) for r in rows]
        correct = [p == t.upper() for p, t in zip(predicted, truths)]
    return accuracy_result(
        benchmark,
        correct,
        len(rows),
        predicted.count(None),
        mode,
        **{breakdown: accuracy_by(rows, correct, by)},
        _correct=correct,
    )


def option_letters(row: dict) -> str:
    """The row's option letters (``options`` dict or list, or MMBench's A..D columns), else A-D."""
    options = row.get("options")
    if isinstance(options, dict) and options:
        return "".join(sorted(str(k).upper() for k in options))
    if isinstance(options, list) and options:
        return "ABCDEFGHIJ"[: len(options)]
    present = "".join(k for k in "ABCDEFGHIJ" if row.get(k) not in (None, ""))
    return present or DEFAULT_LETTERS
