"""MUSIC-AVQA and AVE as lmms-eval tasks over our unified evaluation JSONL (``data_prep/convert_*_test.py``).

The prompt is the record's own human turn (the official prompt, placeholders included), the
decoding budget the protocol table's, and the score our official scorer (``eval.metrics``) over
all rows, so the number equals ``moka-train evaluate score`` on the same answers.

lmms-eval reads a task's data through ``datasets`` from paths written in its YAML (relative paths
are relative to the working directory, no variables expanded). The shipped files in
``task_files/`` read ``music_avqa_test.jsonl`` / ``ave_test.jsonl`` with media under ``.``: run
lmms-eval from the data root, or write files with absolute paths::

    moka-train lmms-tasks --output lmms_tasks \\
        --music-avqa eval/music_avqa_test.jsonl --ave eval/ave_test.jsonl --media-root DATA
    lmms-eval --model moka --model_args config=C.yaml,checkpoint=EXPORT \\
        --tasks moka_music_avqa,moka_ave --include_path lmms_tasks
"""

from __future__ import annotations

import json
from pathlib import Path

from ...eval.metrics import ScoringError, get_scorer
from ...eval.protocol import PROTOCOLS
from ...utils.logging import get_logger

log = get_logger(__name__)

TASKS = {"music_avqa": "moka_music_avqa", "ave": "moka_ave"}  # benchmark -> lmms-eval task name
DEFAULT_FILES = {"music_avqa": "music_avqa_test.jsonl", "ave": "ave_test.jsonl"}
SHIPPED = Path(__file__).resolve().parent / "task_files"
MEDIA_KEYS = ("image", "video", "audio", "speech")
FUNCTIONS = "moka_train.integrations.lmms.tasks"


def task_yaml(benchmark: str, data_file: str, media_root: str) -> str:
    """The task file of one benchmark reading ``data_file``, media paths relative to ``media_root``."""
    name = TASKS[benchmark]
    return f"""# {name}: {benchmark} from our unified JSONL, scored by moka_train.eval.metrics (official mode)
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {json.dumps(data_file)}
test_split: test
output_type: generate_until
doc_to_visual: !function {FUNCTIONS}.doc_to_visual
doc_to_text: !function {FUNCTIONS}.doc_to_text
doc_to_target: answer
generation_kwargs:
  max_new_tokens: {PROTOCOLS[benchmark].max_new_tokens}
  do_sample: false
process_results: !function {FUNCTIONS}.process_{benchmark}
metric_list:
  - metric: {benchmark}
    aggregation: !function {FUNCTIONS}.aggregate_{benchmark}
    higher_is_better: true
lmms_eval_specific_kwargs:
  default:
    media_root: {json.dumps(media_root)}
"""


def write_tasks(output: str | Path, files: dict[str, str | Path], media_root: str | Path) -> list[Path]:
    """Task files with absolute paths, one per benchmark in ``files`` (benchmark -> JSONL)."""
    unknown = sorted(set(files) - set(TASKS))
    if unknown:
        raise ValueError(f"no lmms-eval task for {unknown}; choose from {', '.join(TASKS)}")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for benchmark, data_file in files.items():
        path = output / f"{TASKS[benchmark]}.yaml"
        path.write_text(task_yaml(benchmark, str(Path(data_file).resolve()), str(Path(media_root).resolve())))
        written.append(path)
    return written


def doc_to_visual(doc: dict, kwargs: dict | None = None) -> list[dict]:
    """The record's media, each named by its modality (a video and its audio track stay apart)."""
    root = Path((kwargs or {}).get("media_root", "."))
    return [{"modality": key, "path": str(root / doc[key])} for key in MEDIA_KEYS if doc.get(key)]


def doc_to_text(doc: dict, kwargs: dict | None = None) -> str:
    """The first human turn, as the converter wrote it (the official prompt with placeholders)."""
    return next(turn["value"] for turn in doc["conversations"] if turn["from"] in ("human", "user"))


def answer_row(doc: dict, results: list[str]) -> dict:
    """The scorer's row: the record's fields (truth, id, type) and the answer as ``prediction``."""
    row = {k: v for k, v in doc.items() if k not in ("conversations", *MEDIA_KEYS)}
    return {**row, "prediction": results[0]}


def process_music_avqa(doc: dict, results: list[str]) -> dict:
    return {"music_avqa": answer_row(doc, results)}


def process_ave(doc: dict, results: list[str]) -> dict:
    return {"ave": answer_row(doc, results)}


def aggregate_music_avqa(rows: list[dict]) -> float:
    return _official_value("music_avqa", rows)


def aggregate_ave(rows: list[dict]) -> float:
    return _official_value("ave", rows)


def _official_value(benchmark: str, rows: list[dict]) -> float:
    """Our official score; NaN, with the scorer's reason as a warning, where nothing can be scored
    (lmms-eval needs a number: NaN is none, where 0.0 would read as a result)."""
    try:
        return get_scorer(benchmark)(rows, "official")["value"]
    except ScoringError as err:
        log.warning("%s; reported as NaN", err)
        return float("nan")
