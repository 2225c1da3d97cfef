"""lmms-eval, offline, runs the tiny MokA export through our plugin (found via the `lmms_eval.models`
entry point) on a local MUSIC-AVQA task: its answers are `infer`'s answers, its score our scorer's."""

import json
import math
import sys
from pathlib import Path

import pytest
from eval_run.tiny_export import CONFIG, build_export

from moka_train.eval.generate import generate_predictions, load_for_inference
from moka_train.eval.metrics import ScoringError
from moka_train.eval.score import score_file
from moka_train.integrations.lmms.tasks import DEFAULT_FILES, SHIPPED, TASKS, task_yaml, write_tasks
from moka_train.utils.jsonl import write_jsonl

BUDGET = 4


@pytest.fixture(scope="module")
def exported(workspace, tmp_path_factory):
    return build_export(workspace, tmp_path_factory.mktemp("export"))


def music_avqa_file(cfg, path: Path, n: int = 6) -> Path:
    """Synthetic clips as MUSIC-AVQA rows (the converter's fields), one answer in the vocabulary."""
    rows = [json.loads(line) for line in Path(cfg.data.train_file).read_text().splitlines()[:n]]
    fields = {"answer": "two", "type": '["Audio", "Counting"]'}
    rows = [
        {"id": r["id"], "video": r["video"], "audio": r["audio"], **fields, "conversations": r["conversations"][:1]}
        for r in rows
    ]
    return write_jsonl(path, rows)


def budget_task_files(cfg, data: Path, tasks: Path) -> Path:
    """The MUSIC-AVQA task file of ``data`` in ``tasks``, generating BUDGET tokens (not 500)."""
    write_tasks(tasks, {"music_avqa": data}, cfg.data.root)
    task = tasks / "moka_music_avqa.yaml"
    task.write_text(task.read_text().replace("max_new_tokens: 500", f"max_new_tokens: {BUDGET}"))
    return tasks


def run_lmms_eval(config: Path, export: Path, tasks: Path, task: str) -> dict:
    """lmms-eval's own API: the model from its registry (our entry point), the task from
    --include_path, its evaluator (in process, so the answers can be compared one by one; the CLI
    is run by the tests below)."""
    from lmms_eval import evaluator, models
    from lmms_eval.tasks import TaskManager, get_task_dict

    lm = models.get_model("moka").create_from_arg_string(f"config={config},checkpoint={export}", {"batch_size": 3})
    task_dict = get_task_dict([task], TaskManager(include_path=str(tasks), include_defaults=False), "simple")
    for name, task_obj in task_dict.items():
        lm.task_dict[name] = task_obj.dataset
        task_obj.set_config(key="num_fewshot", value=0)
    return evaluator.evaluate(lm=lm, task_dict=task_dict, log_samples=True)


def test_lmms_eval_offline_matches_infer_and_our_scorer(exported, workspace, tmp_path, monkeypatch):
    cfg, export, _ = exported
    data = music_avqa_file(cfg, tmp_path / "avqa.jsonl")
    tasks = budget_task_files(cfg, data, tmp_path / "tasks")
    for key, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("HF_DATASETS_OFFLINE", "1"),
        ("HF_DATASETS_CACHE", str(tmp_path / "hf")),
        ("DEMO_ROOT", str(workspace)),
    ):
        monkeypatch.setenv(key, value)
    out = run_lmms_eval(CONFIG, export, tasks, "moka_music_avqa")
    lmms_answers = {s["doc"]["id"]: s["resps"][0][0] for s in out["samples"]["moka_music_avqa"]}

    tokenizer, model = load_for_inference(cfg, export)
    ours = generate_predictions(cfg, tokenizer, model, data, batch_size=1, max_new_tokens=BUDGET)
    assert lmms_answers == {r["id"]: r["prediction"] for r in ours} and len(ours) == 6
    assert_same_score(out["results"]["moka_music_avqa"]["music_avqa,none"], ours, tmp_path)


def assert_same_score(lmms_value: float, ours: list[dict], tmp_path: Path) -> None:
    """lmms-eval's number is our scorer's; where nothing can be scored (a tiny random model's
    answers carry no <answer> tag), ours is an error and lmms-eval's NaN, never 0.0."""
    try:
        expected = score_file("music_avqa", str(write_jsonl(tmp_path / "ours.jsonl", ours)), "official")["value"]
    except ScoringError:
        assert math.isnan(lmms_value), lmms_value
        return
    assert lmms_value == expected


def test_shipped_task_files_are_the_writer_output():
    for benchmark, name in TASKS.items():
        assert (SHIPPED / f"{name}.yaml").read_text() == task_yaml(benchmark, DEFAULT_FILES[benchmark], ".")


def test_task_aggregation_is_our_official_scorer():
    from moka_train.integrations.lmms.tasks import aggregate_music_avqa, process_music_avqa

    docs = [
        {"id": str(k), "answer": "two", "type": '["Audio", "Counting"]', "conversations": [], "video": "v.mp4"}
        for k in range(4)
    ]
    answers = ["<answer>two</answer>", "<answer>three</answer>", "no tag", "<answer>more than two</answer>"]
    rows = [process_music_avqa(d, [a])["music_avqa"] for d, a in zip(docs, answers, strict=True)]
    assert "conversations" not in rows[0] and "video" not in rows[0] and rows[0]["prediction"] == answers[0]
    # official: the untagged row is dropped, "more than two" is not in the vocabulary (dropped), 1 of 2 right
    assert aggregate_music_avqa(rows) == 50.0


def run_lmms_eval_cli(tmp_path: Path, workspace: Path, *args: str):
    """`moka-train lmms-eval ARGS`: lmms-eval's own CLI (cli_evaluate), offline, in a subprocess."""
    import os
    import shutil
    import subprocess

    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", DEMO_ROOT=str(workspace))
    env["HF_DATASETS_CACHE"] = str(tmp_path / "hf")
    cli = shutil.which("moka-train", path=str(Path(sys.executable).parent))
    return subprocess.run([cli, "lmms-eval", *args], env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)


def test_lmms_eval_cli_scores_the_export_as_our_scorer(exported, workspace, tmp_path):
    """The README's lmms-eval line runs lmms-eval's CLI end to end with the installed versions
    (filelock 4 broke it: `No module named 'filelock._api'`; then a missing pytablewriter), and
    its score is our scorer's on infer's answers."""
    cfg, export, _ = exported
    data = music_avqa_file(cfg, tmp_path / "avqa.jsonl")
    tasks = budget_task_files(cfg, data, tmp_path / "tasks")
    args = ["--model", "moka", "--model_args", f"config={CONFIG},checkpoint={export}", "--tasks", "moka_music_avqa"]
    args += ["--include_path", str(tasks), "--batch_size", "3", "--output_path", str(tmp_path / "out")]
    done = run_lmms_eval_cli(tmp_path, workspace, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(p.read_text()) for p in (tmp_path / "out").rglob("*results.json")]
    assert len(results) == 1, sorted(str(p) for p in (tmp_path / "out").rglob("*"))

    tokenizer, model = load_for_inference(cfg, export)
    ours = generate_predictions(cfg, tokenizer, model, data, batch_size=1, max_new_tokens=BUDGET)
    assert_same_score(results[0]["results"]["moka_music_avqa"]["music_avqa,none"], ours, tmp_path)


def test_lmms_eval_cli_failure_exits_non_zero(exported, workspace, tmp_path):
    """A checkpoint that does not exist is a failed evaluation: the exit code says so (lmms-eval's
    own CLI prints the error and exits 0)."""
    cfg, _, _ = exported
    write_tasks(tmp_path / "tasks", {"music_avqa": music_avqa_file(cfg, tmp_path / "avqa.jsonl")}, cfg.data.root)
    args = ["--model", "moka", "--model_args", f"config={CONFIG},checkpoint={tmp_path / 'missing'}"]
    args += ["--tasks", "moka_music_avqa", "--include_path", str(tmp_path / "tasks"), "--limit", "1"]
    done = run_lmms_eval_cli(tmp_path, workspace, *args)
    assert done.returncode == 1 and "error: lmms-eval failed" in done.stderr and "missing" in done.stderr
