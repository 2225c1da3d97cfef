"""The official MokA prediction files reproduce the published numbers of the official README
(AVE 77.06, POPE 77.07, MMBench 56.02). The files are in tests/fixtures/official (PROVENANCE.txt)."""

import json
from pathlib import Path

import pytest

from moka_train.cli.evaluate_score import evaluate_main
from moka_train.eval.metrics import ave, mmbench, pope
from moka_train.eval.predictions import read_predictions

OFFICIAL = Path(__file__).resolve().parents[1] / "fixtures" / "official"


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
    argv = [
        "score",
        "--benchmark",
        "ave",
        "--predictions",
        str(OFFICIAL / "ave_predictions.jsonl"),
        "--mode",
        "strict",
        "--annotations",
        str(OFFICIAL / "ave_annotations.txt"),
    ]
    assert evaluate_main(argv) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (last["benchmark"], last["mode"], round(last["value"], 2), last["n_unparsed"]) == ("ave", "strict", 75.82, 5)


def test_mmbench_official_file_parses_the_raw_text_as_the_official_script():
    """The official file stores the raw decoded text ("A </s>" for 4313 of 4332 rows); the official
    rule needs the space before "</s>", so reading the cleaned "A" would leave almost every row unparsed."""
    rows = read_predictions(OFFICIAL / "mmbench_predictions.jsonl")
    out = mmbench.score(rows, "official")
    assert round(out["value"], 2) == 56.02
    assert (out["n"], out["n_unparsed"], out["n_missing"]) == (4332, 8, 0)
    strict = mmbench.score(rows, "strict")  # the clean text, leading letter
    assert (round(strict["value"], 2), strict["n_unparsed"]) == (56.07, 9)


def test_shared_fixtures_fixture_points_at_the_copy(shared_fixtures):
    assert shared_fixtures == OFFICIAL and (shared_fixtures / "PROVENANCE.txt").is_file()
