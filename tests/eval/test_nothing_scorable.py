"""A score over nothing scorable is an error naming the parser, never 0.0 (issue 33); the demo's
synthetic QA has its own benchmark; `report` names a recipe's backbone, not its scenario."""

import json

import pytest

from moka_train.cli import main
from moka_train.eval.metrics import SCORERS, ScoringError
from moka_train.eval.report import backbone_of, markdown_table
from moka_train.eval.score import BENCHMARKS
from moka_train.testing.synthetic import make_synthetic


@pytest.fixture(scope="module")
def demo_rows(tmp_path_factory):
    """The demo's held-out QA rows (16 samples), as `make demo` writes them."""
    root = tmp_path_factory.mktemp("heldout")
    make_synthetic(root, seed=1, num_av=16, num_image=0, num_speech=0, frames=2, size=16)
    return [json.loads(line) for line in (root / "av_qa.jsonl").read_text().splitlines()]


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_all_right_answers_scored_as_music_avqa_are_an_error_not_zero(demo_rows, tmp_path, capsys):
    """The issue's case: 16/16 right, but no <answer> tags, scored as MUSIC-AVQA official: 0.0 before."""
    rows = [{**r, "prediction": r["answer"]} for r in demo_rows]
    with pytest.raises(ScoringError, match="none of the 16 rows can be scored \\(16 unparsed"):
        SCORERS["music_avqa"](rows, "official")
    path = write(tmp_path / "p.jsonl", rows)
    assert main(["evaluate", "score", "--benchmark", "music_avqa", "--predictions", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not 0.0" in err and "--benchmark" in err and "--mode strict" in err
    strict = SCORERS["music_avqa"](rows, "strict")  # strict counts them wrong: a real 0.0
    assert strict["value"] == 0.0 and strict["n_unparsed"] == 16


def test_only_error_rows_in_official_mode_are_an_error(tmp_path):
    rows = [{"id": "a", "prediction": "", "answer": "yes", "missing": True}]
    for name in ("pope", "mme", "music_avqa", "ave", "asr_wer"):
        with pytest.raises(ScoringError, match="all 1 rows are error rows"):
            SCORERS[name](rows, "official")


def test_demo_qa_has_a_benchmark_scored_per_task(demo_rows, tmp_path, capsys):
    assert "synthetic_avqa" in BENCHMARKS  # `evaluate run --benchmark synthetic_avqa` accepts it
    right = [{**r, "prediction": f"  {r['answer'].upper()} "} for r in demo_rows]
    out = SCORERS["synthetic_avqa"](right, "official")
    assert (out["value"], out["n"], out["n_unparsed"]) == (100.0, 16, 0)
    assert set(out["tasks"]) == {r["task"] for r in demo_rows} and set(out["tasks"].values()) == {100.0}
    half = [{**r, "prediction": r["answer"] if k % 2 else "purple"} for k, r in enumerate(demo_rows)]
    path = write(tmp_path / "half.jsonl", half)
    assert main(["evaluate", "score", "--benchmark", "synthetic_avqa", "--predictions", str(path)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["value"] == 50.0


@pytest.mark.parametrize(
    "recipe, backbone",
    [
        ("tiny_avqa", "tiny"),
        ("tiny_avqa_official", "tiny"),
        ("avqa_llama2", "llama2"),
        ("ave_llama2_official", "llama2"),
        ("visual_qwen25vl", "qwen25vl"),
        ("real_speech_smollm2", "smollm2"),
        ("my_recipe", ""),
    ],
)
def test_report_names_the_backbone_of_the_recipe(recipe, backbone):
    assert backbone_of(recipe) == backbone


def test_report_labels_the_demo_recipe_tiny_not_avqa():
    table = markdown_table([{"benchmark": "synthetic_avqa", "value": 87.5, "method": "moka", "recipe": "tiny_avqa"}])
    assert "| tiny | moka | 87.50 |" in table and "| avqa |" not in table
