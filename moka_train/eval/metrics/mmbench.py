"""MMBench (dev, legacy English TSV, no CircularEval): single-answer multiple choice.

Official: the lowercased output is searched for ``'a '``, ``'b '``, ... in letter order
(``common.choice_official``); unparsable counts wrong. Strict: only a leading option letter is
read. Accuracy over all rows, plus per ``category`` (and per ``l2-category`` when present).
SEED-Bench reuses :func:`multiple_choice` with its own grouping.
"""

from __future__ import annotations

from collections.abc import Callable

from .common import accuracy_by, check_mode, choice, require, result

DEFAULT_LETTERS = "ABCD"


def score(rows: list[dict], mode: str = "official") -> dict:
    out = multiple_choice("mmbench", rows, mode, by=lambda r: str(r.get("category", "?")), breakdown="categories")
    if any("l2-category" in r for r in rows):
        correct = [p == t for p, t in zip(out.pop("_predicted"), out.pop("_truth"))]
        out["l2_categories"] = accuracy_by(rows, correct, lambda r: str(r.get("l2-category", "?")))
    return _without_private(out)


def multiple_choice(benchmark: str, rows: list[dict], mode: str, by: Callable[[dict], str], breakdown: str) -> dict:
    """Accuracy with unparsable answers wrong; the per-row letters stay in ``_predicted``/``_truth``."""
    check_mode(mode)
    truths = [str(require(r, "answer")).strip().upper() for r in rows]
    predicted = [choice(r["prediction"], option_letters(r), mode) for r in rows]
    correct = [p == t for p, t in zip(predicted, truths)]
    value = 100.0 * sum(correct) / len(rows) if rows else 0.0
    return result(benchmark, "accuracy", value, len(rows), predicted.count(None), mode,
                  **{breakdown: accuracy_by(rows, correct, by)}, _predicted=predicted, _truth=truths)


def option_letters(row: dict) -> str:
    """The row's option letters (``options`` dict or list, or MMBench's A..D columns), else A-D."""
    options = row.get("options")
    if isinstance(options, dict) and options:
        return "".join(sorted(str(k).upper() for k in options))
    if isinstance(options, list) and options:
        return "ABCDEFGHIJ"[: len(options)]
    present = "".join(k for k in "ABCDEFGHIJ" if row.get(k) not in (None, ""))
    return present or DEFAULT_LETTERS


def _without_private(out: dict) -> dict:
    return {k: v for k, v in out.items() if not k.startswith("_")}
