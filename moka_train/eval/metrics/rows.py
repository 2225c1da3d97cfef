"""What every scorer checks before it counts: rows to score, one row per sample, missing samples.

Each benchmark's ``score(rows, mode)`` is wrapped by :func:`scores_rows`, so the rules hold however
a scorer is reached (the CLI, ``evaluate run``, or a direct call):

* no rows at all is an error (a score of 0.0 over nothing looks like a result), and so is a set
  of rows that are all error rows in official mode (nothing left to score);
* two rows with the same ``id`` are an error naming some of them (a sample counted twice moves
  the number, and a merge that duplicated rows is a bug to see, not to average over);
* a *missing* row (``missing: true``, an error row written when a sample's media could not be
  read or its prompt rendered) is reported in ``n_missing``. Strict mode scores it as an empty
  answer, so it counts wrong (every strict parser reads ``""`` as unparsable; the row is moved
  from ``n_unparsed`` to ``n_missing``). Official mode leaves it out: the official scripts never
  produced such a row, so there is no official rule to reproduce; ``n_missing`` says the number
  does not cover every sample.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable

from .common import ScoringError, check_mode

SHOWN = 5  # duplicate ids named in the error message


def check_rows(benchmark: str, rows: list[dict]) -> None:
    if not rows:
        raise ScoringError(f"{benchmark}: no prediction rows to score")
    counts = Counter(str(r.get("id")) for r in rows)
    duplicated = [i for i, n in counts.items() if n > 1]
    if duplicated:
        names = ", ".join(f"{i!r} x{counts[i]}" for i in duplicated[:SHOWN])
        more = f" and {len(duplicated) - SHOWN} more" if len(duplicated) > SHOWN else ""
        raise ScoringError(
            f"{benchmark}: {len(duplicated)} ids occur more than once ({names}{more}); each sample must be scored once"
        )


def scores_rows(benchmark: str) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    def wrap(score: Callable[..., dict]) -> Callable[..., dict]:
        @functools.wraps(score)
        def checked(rows: list[dict], mode: str = "official", **kwargs) -> dict:
            check_mode(mode)
            check_rows(benchmark, rows)
            missing = sum(bool(r.get("missing")) for r in rows)
            if mode == "official":
                if missing == len(rows):  # nothing left to score: an error, not a 0.0
                    raise ScoringError(
                        f"{benchmark}: all {missing} rows are error rows (no answer: unreadable media or an "
                        "unrenderable prompt); fix the inputs named in their 'detail' and rerun the evaluation"
                    )
                out = score([r for r in rows if not r.get("missing")], mode, **kwargs)
            else:
                out = score([as_empty_answer(r) if r.get("missing") else r for r in rows], mode, **kwargs)
                out["n_unparsed"] -= missing  # counted wrong as unparsable; reported as missing instead
            return {**out, "n_missing": missing}

        return checked

    return wrap


def as_empty_answer(row: dict) -> dict:
    return {**row, "prediction": "", "raw_prediction": ""}
