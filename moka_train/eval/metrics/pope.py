"""POPE: yes/no object-hallucination probes; accuracy pooled over the splits.

Official: "yes" anywhere, else "no" anywhere (``common.yes_no_official``); a row with neither counts
as wrong. Strict: the first word must be yes or no. Besides accuracy: precision, recall and F1 of
the "yes" class and the share of "yes" answers, pooled and per split when rows carry ``split``
(or ``category``, as the POPE question files call it).
"""

from __future__ import annotations

from .common import check_mode, percent, require, result, yes_no
from .rows import scores_rows


@scores_rows("pope")
def score(rows: list[dict], mode: str = "official") -> dict:
    check_mode(mode)
    truths = [str(require(r, "answer")).strip().lower() for r in rows]
    preds = [yes_no(r["prediction"], mode) for r in rows]
    pooled = confusion(truths, preds)
    splits = {}
    for name in dict.fromkeys(_split(r) for r in rows if _split(r) is not None):
        keep = [i for i, r in enumerate(rows) if _split(r) == name]
        splits[name] = confusion([truths[i] for i in keep], [preds[i] for i in keep])
    return result(
        "pope",
        "accuracy",
        pooled["accuracy"],
        len(rows),
        preds.count(None),
        mode,
        **{k: v for k, v in pooled.items() if k != "accuracy"},
        splits=splits,
    )


def confusion(truths: list[str], preds: list[str | None]) -> dict:
    """Percentages; an unparsed prediction is neither a yes nor a no, so it is always wrong."""
    tp = sum(t == "yes" and p == "yes" for t, p in zip(truths, preds))
    predicted_yes = preds.count("yes")
    actual_yes = truths.count("yes")
    precision, recall = percent(tp, predicted_yes), percent(tp, actual_yes)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": percent(sum(t == p for t, p in zip(truths, preds)), len(truths)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "yes_ratio": percent(predicted_yes, len(preds)),
    }


def _split(row: dict) -> str | None:
    return row.get("split") or row.get("category")
