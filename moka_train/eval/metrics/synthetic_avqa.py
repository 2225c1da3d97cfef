"""The demo's synthetic audio-visual QA (``make demo``, ``configs/tiny_avqa.yaml``): exact answers.

Each row of ``moka_train.testing.synthetic``'s ``av_qa.jsonl`` carries its truth as ``answer``
("red", "high", "green low") and its question family as ``task`` (colour, tone, direction,
av_colour_tone). A prediction is right when its words, lowercased with whitespace collapsed, equal
the truth's. There is no official script for these data, so both modes score the same way; an empty
prediction is the one unparsed answer (and counts wrong). The breakdown is the accuracy per task,
the table ``make demo`` prints.
"""

from __future__ import annotations

from .common import accuracy_by, accuracy_result, check_mode, require
from .rows import scores_rows


@scores_rows("synthetic_avqa")
def score(rows: list[dict], mode: str = "official") -> dict:
    check_mode(mode)
    said = [normalise(r["prediction"]) for r in rows]
    correct = [s == normalise(str(require(r, "answer"))) for r, s in zip(rows, said)]
    return accuracy_result(
        "synthetic_avqa",
        correct,
        len(rows),
        said.count(""),
        mode,
        tasks=accuracy_by(rows, correct, lambda r: str(r.get("task", "?"))),
    )


def normalise(text: str) -> str:
    return " ".join(text.lower().split())
