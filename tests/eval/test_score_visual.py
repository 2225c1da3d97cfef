"""MME, MMBench, SEED and POPE on hand-made prediction files; every expected value computed by hand."""

from pathlib import Path

import pytest

from moka_train.eval.metrics import mmbench, mme, pope, seed
from moka_train.eval.predictions import read_predictions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def rows(name):
    return read_predictions(FIXTURES / name)


def test_mme_official_scores_scene_with_posters_rows():
    out = mme.score(rows("mme_small.jsonl"), "official")
    # posters: 3 of 4 right, 1 of 2 images both right -> 75 + 50
    assert out["subtasks"]["posters"]["score"] == 125.0
    assert out["subtasks"]["scene"] == out["subtasks"]["posters"]  # the slip: scene's own rows are all right
    # existence: "yes" anywhere / otherwise no ("Not sure", "I cannot tell" read as no) -> all right
    assert out["subtasks"]["existence"]["score"] == 200.0
    assert out["perception"] == out["value"] == 125 + 125 + 200
    assert out["cognition"] == 50.0  # code_reasoning: 1 of 2, no image pair right
    assert out["n_unparsed"] == 0  # "cannot" contains "no": the official rule reads every row


def test_mme_strict_fixes_the_slip_and_needs_a_leading_yes_no():
    out = mme.score(rows("mme_small.jsonl"), "strict")
    assert out["subtasks"]["scene"]["score"] == 200.0
    # existence: "There is a dog, yes.", "Not sure", "I cannot tell" unreadable; one "Yes" right
    assert out["subtasks"]["existence"] == {"acc": 25.0, "acc_plus": 0.0, "score": 25.0, "n": 4}
    assert out["value"] == 125 + 200 + 25
    assert out["n_unparsed"] == 3


@pytest.mark.parametrize(
    "mode, value, unparsed, categories",
    [
        # official: "B. a cat " reads as A ('a ' is tried first); "(A) dog" has no "a " and is unparsed
        ("official", 25.0, 2, {"attribute": 0.0, "ocr": 50.0}),
        ("strict", 75.0, 1, {"attribute": 100.0, "ocr": 50.0}),
    ],
)
def test_mmbench_letter_order_quirk(mode, value, unparsed, categories):
    out = mmbench.score(rows("mmbench_small.jsonl"), mode)
    assert (out["value"], out["n_unparsed"], out["categories"]) == (value, unparsed, categories)


def test_seed_bare_letter_needs_trailing_space_in_official_mode():
    official, strict = (seed.score(rows("seed_small.jsonl"), m) for m in ("official", "strict"))
    assert (round(official["value"], 2), official["n_unparsed"], official["dimensions"]) == (
        33.33,
        2,
        {"1": 50.0, "2": 0.0},
    )
    assert (round(strict["value"], 2), strict["n_unparsed"], strict["dimensions"]) == (66.67, 0, {"1": 100.0, "2": 0.0})


def test_pope_counts_and_rates():
    official = pope.score(rows("pope_small.jsonl"), "official")
    # predictions yes,no,no,no("know"),no("Nothing") vs truth yes,yes,no,no,yes
    assert official["value"] == 60.0 and official["n_unparsed"] == 0
    assert (official["precision"], round(official["recall"], 2), official["f1"], official["yes_ratio"]) == (
        100.0,
        33.33,
        50.0,
        20.0,
    )
    assert round(official["splits"]["adversarial"]["accuracy"], 2) == 66.67
    assert official["splits"]["random"]["accuracy"] == 50.0
    strict = pope.score(rows("pope_small.jsonl"), "strict")
    assert (strict["value"], strict["n_unparsed"], strict["splits"]["random"]["accuracy"]) == (40.0, 2, 0.0)


def test_missing_truth_field_names_the_row():
    with pytest.raises(ValueError, match="row 'x' has no 'answer' field"):
        pope.score([{"id": "x", "prediction": "yes", "answer": None}], "official")


def test_unknown_mode_lists_choices():
    with pytest.raises(ValueError, match="unknown mode 'lenient'; choose from official, strict"):
        mmbench.score([], "lenient")
