"""Read prediction files, ours and the official MokA ones, into one row schema.

Every row comes back as the original fields plus three normalised ones:

* ``id``: ``id`` / ``question_id`` / ``uniq_id``, else ``rank-index`` (official multi-GPU files),
  else ``line<N>``;
* ``prediction``: the model's text, from ``prediction`` (ours), ``predict`` (official AVE and
  MUSIC-AVQA), ``response``, or ``output`` (official POPE/MME/MMBench/SEED). A one-element list
  (the official POPE files store ``["text"]``) is unwrapped; decoder artefacts (``<s>``, ``</s>``,
  ``<unk>``, ``<pad>``) are removed because the official files keep them;
* ``answer``: the truth, from ``answer`` / ``answer_gt`` / ``gt_answer``; the official AVE and
  MUSIC-AVQA files name their truth ``output`` (beside ``predict``), so ``output`` is the truth
  exactly when ``predict`` holds the prediction;
* ``raw_prediction``: the text as decoded with special tokens kept (``"A </s>"``), which is what
  the official MMBench/SEED parsers read: ours from ``raw_prediction``, the official files' own
  prediction field as stored (they keep the tokens); a file of ours without it falls back to
  ``prediction``;
* ``missing``: true for an error row (``error`` set: the sample's media could not be read or its
  prompt rendered, so nothing was generated); its prediction texts are empty.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..utils.jsonl import read_objects

_ARTEFACTS = re.compile(r"<s>|</s>|<unk>|<pad>")
_ID_KEYS = ("id", "question_id", "uniq_id")
_ANSWER_KEYS = ("answer", "answer_gt", "gt_answer")


class PredictionsError(ValueError):
    """An unreadable predictions file; the message names the file (and line)."""


def read_predictions(path: str | Path) -> list[dict]:
    path = Path(path)
    objects = read_objects(path, PredictionsError, "a predictions row", PredictionsError, "predictions file")
    return [normalise_row(obj, path, lineno) for lineno, obj in objects]


def normalise_row(obj: dict, path: Path | str = "?", lineno: int = 0) -> dict:
    official_pair = "predict" in obj  # official AVE / MUSIC-AVQA: predict = model, output = truth
    pred_keys = ("prediction", "predict", "response") if official_pair else ("prediction", "response", "output")
    answer = _first(obj, _ANSWER_KEYS + (("output",) if official_pair else ()))
    row = dict(obj)
    row["id"] = _row_id(obj, lineno)
    row["answer"] = clean_text(_unwrap(answer, path, lineno)) if answer is not None else None
    if obj.get("error"):  # an error row: the sample is counted, nothing was generated for it
        return {**row, "prediction": "", "raw_prediction": "", "missing": True}
    found = _first(obj, pred_keys)
    if found is None:
        raise PredictionsError(f"{path}:{lineno}: no prediction field (looked for {', '.join(pred_keys)})")
    text = _unwrap(found, path, lineno)
    raw = obj.get("raw_prediction")
    row["raw_prediction"] = _unwrap(raw, path, lineno) if raw is not None else text
    row["prediction"] = clean_text(text)
    row["missing"] = False
    return row


def clean_text(text: str) -> str:
    return _ARTEFACTS.sub("", str(text)).strip()


def _first(obj: dict, keys: tuple[str, ...]):
    return next((obj[k] for k in keys if obj.get(k) is not None), None)


def _unwrap(value, path, lineno) -> str:
    if isinstance(value, list):
        if len(value) != 1:
            raise PredictionsError(f"{path}:{lineno}: expected one answer string, got a list of {len(value)}")
        value = value[0]
    return str(value)


def _row_id(obj: dict, lineno: int) -> str:
    found = _first(obj, _ID_KEYS)
    if found is not None:
        return str(found)
    if "rank" in obj and "index" in obj:
        return f"{obj['rank']}-{obj['index']}"
    return f"line{lineno}"
