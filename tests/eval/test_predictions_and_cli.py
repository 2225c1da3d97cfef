"""Reading prediction files (ours and the official field names) and the score CLI's errors."""

import json
from pathlib import Path

import pytest

from moka_train.cli.evaluate_score import evaluate_main
from moka_train.eval.metrics import ScoringError, get_scorer
from moka_train.eval.predictions import PredictionsError, read_predictions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def write(tmp_path, *objs, name="p.jsonl"):
    path = tmp_path / name
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs))
    return path


def test_official_field_names_are_normalised(tmp_path):
    path = write(
        tmp_path,
        {"predict": "<s> <event> Bark </event></s><unk><unk>", "output": "event:Bark start_time:0 end_time:10</s>"},
        {"rank": 2, "index": 7, "output": ["Yes, there is."], "answer": "yes", "image_path": "COCO_1"},
        {"id": "q1", "prediction": "B", "answer": "A", "category": "ocr"},
    )
    ave_row, pope_row, ours = read_predictions(path)
    assert (ave_row["id"], ave_row["prediction"], ave_row["answer"]) == (
        "line1",
        "<event> Bark </event>",
        "event:Bark start_time:0 end_time:10",
    )
    assert (pope_row["id"], pope_row["prediction"], pope_row["answer"], pope_row["image_path"]) == (
        "2-7",
        "Yes, there is.",
        "yes",
        "COCO_1",
    )
    assert (ours["id"], ours["prediction"], ours["answer"], ours["category"]) == ("q1", "B", "A", "ocr")


def test_bad_json_line_names_file_and_line(tmp_path):
    path = write(tmp_path, {"id": 1, "prediction": "yes"}, "", "{not json")
    with pytest.raises(PredictionsError, match=f"{path}:3: not valid JSON"):
        read_predictions(path)


def test_row_without_prediction_names_the_line(tmp_path):
    path = write(tmp_path, {"id": 1, "answer": "yes"})
    with pytest.raises(PredictionsError, match=f"{path}:1: no prediction field"):
        read_predictions(path)


def test_missing_file_is_named(tmp_path, capsys):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(PredictionsError, match=f"predictions file not found: {missing}"):
        read_predictions(missing)
    assert evaluate_main(["score", "--benchmark", "pope", "--predictions", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_unknown_benchmark_lists_choices():
    with pytest.raises(ScoringError, match="unknown benchmark 'vqa'; choose from music_avqa, ave, mme, mmbench"):
        get_scorer("vqa")


def test_annotations_refused_for_benchmarks_that_do_not_read_them(capsys):
    argv = [
        "score",
        "--benchmark",
        "pope",
        "--predictions",
        str(FIXTURES / "pope_small.jsonl"),
        "--annotations",
        str(FIXTURES / "ave_annotations_small.txt"),
    ]
    assert evaluate_main(argv) == 2
    assert "--annotations is only used by ave, not pope" in capsys.readouterr().err


def test_cli_strict_mme_last_line(capsys):
    argv = ["score", "--benchmark", "mme", "--predictions", str(FIXTURES / "mme_small.jsonl"), "--mode", "strict"]
    assert evaluate_main(argv) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (last["benchmark"], last["metric"], last["value"], last["n"], last["n_unparsed"]) == (
        "mme",
        "perception",
        350.0,
        14,
        3,
    )
