"""AIR-Bench foundation, speech-en tasks: four-option questions (``choice_a``..``choice_d``,
truth ``answer_gt`` as option text); accuracy pooled, plus per ``task_name``.

Official (AIR-Bench's foundation rule): a leading option letter picks that option; otherwise the
answer is right when it contains the true option's text. Strict: a leading letter or exactly one
option named (``common.option_strict``); unparsable = wrong.
"""

from __future__ import annotations

from .common import accuracy_by, accuracy_result, check_mode, choice_strict, option_strict, option_texts, require
from .rows import scores_rows


@scores_rows("airbench_speech")
def score(rows: list[dict], mode: str = "official") -> dict:
    check_mode(mode)
    correct, unparsed = [], 0
    for row in rows:
        truth, options = str(require(row, "answer")).strip(), option_texts(row)
        picked = (
            official_pick(row["prediction"], truth, options)
            if mode == "official"
            else option_strict(row["prediction"], options)
        )
        correct.append(picked is not None and picked.strip().lower() == truth.lower())
        unparsed += picked is None
    tasks = accuracy_by(rows, correct, lambda r: str(r.get("task_name", "?")))
    return accuracy_result("airbench_speech", correct, len(rows), unparsed, mode, tasks=tasks)


def official_pick(text: str, truth: str, options: list[str]) -> str | None:
    letter = choice_strict(text, "ABCD"[: len(options)])
    if letter is not None:
        return options["ABCD".index(letter)]
    if truth.lower() in text.lower():
        return truth
    named = [o for o in options if o.lower() in text.lower()]
    return named[0] if named else None  # another option named: wrong, but read
