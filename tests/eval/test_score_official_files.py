"""The official MokA prediction files reproduce the published numbers (PAPER.md "Published numbers")."""

import json
from pathlib import Path

import pytest

from moka_train.eval.cli import evaluate_main
from moka_train.eval.metrics import ave, pope
from moka_train.eval.predictions import read_predictions

OFFICIAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "official"
pytestmark = pytest.mark.skipif(not (OFFICIAL / "ave_predictions.jsonl").is_file(),
                                reason=f"official MokA prediction files not found under {OFFICIAL}")


@pytest.mark.parametrize("mode, value, correct_slots", [("official", 77.06, 3098), ("strict", 75.82, 3048)])
def test_ave_official_file(mode, value, correct_slots):
    out = ave.score(read_predictions(OFFICIAL / "ave_predictions.jsonl"), mode)
    assert round(out["value"], 2) == value
    assert (out["n"], out["n_parsed"], out["n_unparsed"]) == (402, 397, 5)
    assert out["correct_slots"] == correct_slots  # strict loses exactly the 5 unparsed rows' 10 slots


def test_ave_with_annotations_file_gives_same_number():
    rows = read_predictions(OFFICIAL / "ave_predictions.jsonl")
    assert round(ave.score(rows, "official", annotations=OFFICIAL / "ave_annotations.txt")["value"], 2) == 77.06


@pytest.mark.parametrize("mode", ["official", "strict"])
def test_pope_official_file(mode):
    out = pope.score(read_predictions(OFFICIAL / "pope_predictions.jsonl"), mode)
    assert round(out["value"], 2) == 77.07
    assert out["n"] == 9000 and out["n_unparsed"] == 0
    assert round(out["yes_ratio"], 2) == 32.89 and round(out["precision"], 2) == 91.15


def test_cli_last_line_is_the_result(capsys):
    argv = ["score", "--benchmark", "ave", "--predictions", str(OFFICIAL / "ave_predictions.jsonl"),
            "--mode", "strict", "--annotations", str(OFFICIAL / "ave_annotations.txt")]
    assert evaluate_main(argv) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (last["benchmark"], last["mode"], round(last["value"], 2), last["n_unparsed"]) == ("ave", "strict", 75.82, 5)
