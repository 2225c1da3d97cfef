"""Rules every scorer shares: official MMBench/SEED read the raw decoded text as the official
scripts do, duplicate ids and empty files are refused, error rows are reported as missing."""

import json

import pytest

from moka_train.cli.evaluate_score import evaluate_main
from moka_train.eval.metrics import SCORERS, ScoringError, mmbench, seed
from moka_train.eval.predictions import read_predictions
from moka_train.eval.protocol import PROTOCOLS

# (truth, raw decoded output as the official generation stores it) and, derived by hand from
# eval_mmbench.py / eval_seed.py: pred = output[0].strip().lower(); the first of 'a '..'e ' found
# in pred picks "(x)", else the row is skipped (wrong); right when answer.strip().lower() is in "(x)"
OFFICIAL_RAW = [
    ("A", "A </s>"),  # "a </s>" holds 'a ' -> (a): right
    ("B", "(B) </s>"),  # "(b) </s>": "b)" is not 'b ', no letter at all -> unparsed
    ("B", "(B) a cat </s>"),  # 'a ' is tried first and "a cat" holds it -> (a): wrong
    ("C", "C"),  # budget spent before </s>: "c" has no space after it -> unparsed
    ("D", "The answer is D </s>"),  # no 'a '/'b '/'c ' ("answer" ends in r), 'd ' -> (d): right
    ("A", "The cat </s>"),  # only 'e ' (in "the ") -> (e): wrong
    ("B", "B </s>"),  # -> (b): right
]
OFFICIAL_VALUE, OFFICIAL_UNPARSED = 100 * 3 / 7, 2
# strict reads the clean text ("A", "(B)", "(B) a cat", "C", "The answer is D", "The cat", "B"):
# a leading letter is read in rows 1-4 and 7, all right; "The ..." rows unparsed
STRICT_VALUE, STRICT_UNPARSED = 100 * 5 / 7, 2


def official_file(tmp_path, extra: dict) -> list[dict]:
    path = tmp_path / "merged.jsonl"
    path.write_text(
        "".join(
            json.dumps({"rank": 0, "index": i, "question": "q", "answer": truth, "output": [raw], **extra}) + "\n"
            for i, (truth, raw) in enumerate(OFFICIAL_RAW)
        )
    )
    return read_predictions(path)


@pytest.mark.parametrize("scorer, extra", [(mmbench.score, {"category": "c"}), (seed.score, {"question_type_id": 1})])
def test_multiple_choice_official_rule_on_the_raw_text(tmp_path, scorer, extra):
    rows = official_file(tmp_path, extra)
    official, strict = scorer(rows, "official"), scorer(rows, "strict")
    assert (official["value"], official["n_unparsed"]) == (pytest.approx(OFFICIAL_VALUE), OFFICIAL_UNPARSED)
    assert (strict["value"], strict["n_unparsed"]) == (pytest.approx(STRICT_VALUE), STRICT_UNPARSED)
    assert [r["raw_prediction"] for r in rows] == [raw for _, raw in OFFICIAL_RAW]


def test_our_rows_are_parsed_officially_from_raw_prediction():
    ours = [
        {"id": "1", "prediction": "A", "raw_prediction": "A </s>", "answer": "A"},
        {"id": "2", "prediction": "B", "raw_prediction": "B", "answer": "B"},
    ]  # no eos: unparsed officially
    out = mmbench.score(ours, "official")
    assert (out["value"], out["n_unparsed"]) == (50.0, 1)
    assert {PROTOCOLS[name].parser_reads for name in ("mmbench", "seed")} == {"raw"}


def test_duplicate_ids_are_refused_and_named(tmp_path, capsys):
    rows = [{"id": i, "prediction": "yes", "answer": "yes"} for i in ("q1", "q2", "q1", "q3", "q2")]
    with pytest.raises(ScoringError, match=r"pope: 2 ids occur more than once \('q1' x2, 'q2' x2\)"):
        SCORERS["pope"](rows, "official")
    path = tmp_path / "dup.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert evaluate_main(["score", "--benchmark", "pope", "--predictions", str(path)]) == 2
    assert "'q1' x2" in capsys.readouterr().err


def test_empty_predictions_file_is_an_error(tmp_path, capsys):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    assert evaluate_main(["score", "--benchmark", "mme", "--predictions", str(path)]) == 2
    assert f"{path}: no prediction rows" in capsys.readouterr().err
    with pytest.raises(ScoringError, match="mme: no prediction rows to score"):
        SCORERS["mme"]([], "strict")


# one answerable row per benchmark (its prediction right under both modes) and one error row
GOOD = {
    "music_avqa": {"prediction": "<answer>two</answer>", "answer": "two", "type": '["Audio", "Counting"]'},
    "ave": {"prediction": "<event>Bark</event><range>0,9</range>", "answer": "event:Bark start_time:0 end_time:9"},
    "mme": {"prediction": "Yes", "answer": "Yes", "subtask": "existence", "image": "i.png"},
    "mmbench": {"prediction": "A", "raw_prediction": "A </s>", "answer": "A"},
    "pope": {"prediction": "Yes", "answer": "yes"},
    "seed": {"prediction": "A", "raw_prediction": "A </s>", "answer": "A"},
    "mmau_speech": {"prediction": "a dog", "answer": "a dog", "choices": ["a dog", "a cat"]},
    "airbench_speech": {"prediction": "A", "answer": "rain", "choice_a": "rain", "choice_b": "wind"},
    "asr_wer": {"prediction": "hello world", "answer": "hello world"},
    "synthetic_avqa": {"prediction": "red", "answer": "red", "task": "colour"},
}
ERROR_ROW = {"id": "bad", "error": "unreadable_media", "detail": "cannot read v.mp4"}


@pytest.mark.parametrize("benchmark", sorted(SCORERS))
def test_error_rows_are_missing_wrong_in_strict_left_out_in_official(tmp_path, benchmark):
    good = GOOD[benchmark]
    path = tmp_path / "p.jsonl"
    lines = [{"id": "ok", **good}, {**ERROR_ROW, **{k: v for k, v in good.items() if "prediction" not in k}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    rows = read_predictions(path)
    assert [r["missing"] for r in rows] == [False, True]
    alone = SCORERS[benchmark](rows[:1], "strict")
    strict, official = SCORERS[benchmark](rows, "strict"), SCORERS[benchmark](rows, "official")
    assert (strict["n"], strict["n_missing"], strict["n_unparsed"]) == (2, 1, 0)
    assert (official["n"], official["n_missing"], official["n_unparsed"]) == (1, 1, 0)
    assert official["value"] == alone["value"]  # official: as if the row were not there
    worse = {"mme": lambda a, b: a > b, "asr_wer": lambda a, b: a < b}.get(benchmark, lambda a, b: a == 2 * b)
    assert worse(alone["value"], strict["value"]), (alone["value"], strict["value"])  # strict: counted wrong
