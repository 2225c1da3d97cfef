"""MUSIC-AVQA and AVE on hand-made prediction files; expected values computed by hand."""

from pathlib import Path

import pytest

from moka_train.eval.metrics import ave, music_avqa
from moka_train.eval.predictions import read_predictions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def test_music_avqa_official_drops_unparsed_and_matches_substrings():
    out = music_avqa.score(read_predictions(FIXTURES / "music_avqa_small.jsonl"), "official")
    # unparsed: no tag, two tags, "maybe" (not in the vocabulary) -> left out of the 7
    assert (out["n"], out["n_unparsed"], out["n_scored"]) == (7, 3, 4)
    # right: "more than ten" for "ten" (substring), "two", "Acoustic guitar" for acoustic_guitar
    assert out["value"] == 75.0
    assert out["question_types"] == {
        "Audio/Counting": 100.0,
        "Audio-Visual/Existential": 0.0,
        "Audio-Visual/Comparative": 100.0,
    }
    assert out["modalities"] == {"Audio": 100.0, "Audio-Visual": 50.0}


def test_music_avqa_strict_counts_unparsed_wrong_and_needs_equality():
    out = music_avqa.score(read_predictions(FIXTURES / "music_avqa_small.jsonl"), "strict")
    assert out["value"] == pytest.approx(200 / 7)  # only "two" and "acoustic guitar"
    assert out["question_types"]["Visual/Location"] == 0.0 and out["question_types"]["Audio/Counting"] == 50.0


@pytest.mark.parametrize("mode, correct", [("official", 5 + 10 + 10 + 4), ("strict", 5 + 0 + 10 + 4)])
def test_ave_slots(mode, correct):
    out = ave.score(read_predictions(FIXTURES / "ave_small.jsonl"), mode)
    # row 0: truth 2..5 vs prediction 3..9 (inclusive ends) -> slots 0,1,3,4,5 agree
    # row 1: unparsed -> 10 in official, 0 in strict; row 2: "Bark (0 4)" fallback -> 10
    # row 3: two ranges 0..1 and 8..9 against 0..9 -> 4
    assert out["correct_slots"] == correct and out["total_slots"] == 40
    assert out["value"] == 100 * correct / 40 and out["n_unparsed"] == 1


def test_ave_truth_from_annotations_by_video_id():
    rows = read_predictions(FIXTURES / "ave_no_answer.jsonl")
    out = ave.score(rows, "strict", annotations=FIXTURES / "ave_annotations_small.txt")
    assert out["correct_slots"] == 10
    with pytest.raises(ValueError, match="'abc123' is not in the annotations"):
        ave.score(rows, "strict")


def test_ave_event_outside_the_class_list_is_unparsed():
    row = {
        "id": "c",
        "prediction": "<event> Cow </event> <range> 0,10 </range>",
        "answer": "event:Bark start_time:0 end_time:10",
    }
    assert ave.score([row], "strict")["n_unparsed"] == 1


def test_ave_bad_annotations_line_is_named(tmp_path):
    bad = tmp_path / "ann.txt"
    bad.write_text("Bark&abc&good&0\n")
    with pytest.raises(ValueError, match=f"{bad}:1: expected Category&VideoID"):
        ave.score(
            [{"id": "v", "prediction": "<event>Bark</event><range>0,9</range>", "answer": None}],
            "official",
            annotations=bad,
        )
