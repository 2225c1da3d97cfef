"""MME: yes/no questions, two per image, 10 perception and 4 cognition subtasks.

Per subtask: ``acc`` = share of questions right, ``acc+`` = share of images with both questions
right; the subtask score is ``100·acc + 100·acc+`` (max 200). Perception = sum of the 10
perception subtasks (max 2000), cognition = sum of the 4 cognition subtasks.

Official: "yes" anywhere means yes, anything else means no (nothing is unparsable; rows with
neither word are still counted in ``n_unparsed``). The official script scores *scene* with the
*posters* rows (a copy-paste slip): reproduced here. Strict: the first word must be yes or no,
and scene is scored with its own rows.
"""

from __future__ import annotations

from collections import defaultdict

from .common import check_mode, percent, require, result, yes_no_official, yes_no_strict
from .rows import scores_rows

PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR")
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")


@scores_rows("mme")
def score(rows: list[dict], mode: str = "official") -> dict:
    check_mode(mode)
    by_subtask: dict[str, list[tuple[str, bool]]] = defaultdict(list)  # subtask -> (image, correct)
    unparsed = 0
    for row in rows:
        predicted, readable = read_yes_no(row["prediction"], mode)
        unparsed += not readable
        truth = str(require(row, "answer")).strip().lower()
        by_subtask[subtask_of(row)].append((image_of(row), predicted == truth))
    subtasks = {name: subtask_scores(items) for name, items in by_subtask.items()}
    scored = dict(subtasks)
    if mode == "official" and "posters" in subtasks:
        scored["scene"] = subtasks["posters"]  # the official slip, kept on purpose
    perception = sum(scored[s]["score"] for s in PERCEPTION if s in scored)
    cognition = sum(scored[s]["score"] for s in COGNITION if s in scored)
    return result(
        "mme",
        "perception",
        perception,
        len(rows),
        unparsed,
        mode,
        perception=perception,
        cognition=cognition,
        subtasks=scored,
        scene_scored_with="posters" if scored.get("scene") is subtasks.get("posters") else "scene",
    )


def read_yes_no(text: str, mode: str) -> tuple[str | None, bool]:
    """(answer, readable). Official: no "yes" anywhere means no, so every row gets an answer."""
    if mode == "strict":
        answer = yes_no_strict(text)
        return answer, answer is not None
    found = yes_no_official(text)
    return ("yes" if found == "yes" else "no"), found is not None


def subtask_scores(items: list[tuple[str, bool]]) -> dict:
    per_image: dict[str, list[bool]] = defaultdict(list)
    for image, ok in items:
        per_image[image].append(ok)
    acc = percent(sum(ok for _, ok in items), len(items))
    acc_plus = percent(sum(all(v) for v in per_image.values()), len(per_image))
    return {"acc": acc, "acc_plus": acc_plus, "score": acc + acc_plus, "n": len(items)}


def subtask_of(row: dict) -> str:
    name = row.get("subtask") or row.get("category")
    if name is None:
        require(row, "subtask")
    return {"ocr": "OCR"}.get(str(name).lower(), str(name))


def image_of(row: dict) -> str:
    """acc+ pairs the two questions of one image by its path."""
    return str(row.get("image") or row.get("image_path") or require(row, "image"))
