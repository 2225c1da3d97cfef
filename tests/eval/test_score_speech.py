"""MMAU, AIR-Bench and WER on hand-made prediction files; expected values computed by hand."""

from pathlib import Path

from moka_train.eval.metrics import airbench, mmau, wer
from moka_train.eval.predictions import read_predictions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def test_mmau_string_match_and_strict_letters():
    rows = read_predictions(FIXTURES / "mmau_small.jsonl")
    official = mmau.score(rows, "official")
    # right: "The speaker is a woman.", "(D) Robot"; "(A)" names no option words (unparsed);
    # "child or robot" names another option's word -> wrong
    assert (official["value"], official["n_unparsed"]) == (50.0, 1)
    strict = mmau.score(rows, "strict")
    # "(A)" -> Man (right); "child or robot" names two options -> unparsed
    assert (strict["value"], strict["n_unparsed"]) == (75.0, 1)
    assert strict["categories"] == {"speaker_identification": 100.0, "emotion": 50.0}


def test_airbench_official_substring_and_strict():
    rows = read_predictions(FIXTURES / "airbench_small.jsonl")
    official = airbench.score(rows, "official")
    # "B" -> female (wrong); "... female" right; "It sounds female" for truth "male" is right
    # officially because "male" is inside "female"; "I cannot say" unparsed
    assert (official["value"], official["n_unparsed"]) == (50.0, 1)
    assert round(official["tasks"]["Speaker_Gender_Recognition"], 2) == 66.67
    strict = airbench.score(rows, "strict")
    assert (strict["value"], strict["n_unparsed"]) == (25.0, 1)


def test_wer_normalises_like_whisper_and_counts_empty_hypotheses():
    out = wer.score(read_predictions(FIXTURES / "asr_small.jsonl"), "strict")
    # "Mr. Smith" == "mister smith", "colour" == "color"; red->blue 1 sub; empty hyp -> 2 deletions
    assert out["value"] == 100 * 3 / 10
    assert out["splits"] == {"test-clean": 100 * 1 / 8, "test-other": 100.0}
    assert out["n_unparsed"] == 1
