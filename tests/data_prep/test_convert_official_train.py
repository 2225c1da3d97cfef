"""The training converters on the official MokA annotation layout (``--format moka``,
tests/fixtures/official_train/, see its PROVENANCE.txt): the trained answer is the official label
text exactly, through the real LLaMA-2 tokenizer and chat template; the prompt is the official
instruction; bad inputs are refused by name; the bare-tag format stays the default."""

import json
from pathlib import Path

import convert_ave_train
import convert_music_avqa_train
import pytest
from transformers import AutoTokenizer

from moka_train.data.records import parse_record
from moka_train.data.tokenize import IGNORE_INDEX, add_placeholder_tokens, render
from moka_train.modality import QUERY, build_modality_specs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OFFICIAL = FIXTURES / "official_train"
AVQA, AVE = OFFICIAL / "music_avqa", OFFICIAL / "ave"
AV_LEAD_IN = "This is a video:\n<video>\nThis is an audio:\n<audio>\n"
SYSTEM = "You are a helpful assistant."  # the official system prompt (unified_dataset.py:141)


@pytest.fixture(scope="module")
def llama2():
    tok = AutoTokenizer.from_pretrained(FIXTURES / "tokenizers" / "llama2")
    specs = build_modality_specs([("video", "<video>", 3), ("audio", "<audio>", 2)])
    add_placeholder_tokens(tok, specs)
    return tok, specs


def trained_and_query(row: dict, llama2) -> tuple[str, str, list[int]]:
    """(trained tokens decoded, query tokens decoded, trained ids) of a written row, rendered as
    a paper recipe renders it: the backbone's own chat template and the official system prompt."""
    tok, specs = llama2
    r = render(parse_record(json.dumps(row), "row"), "chat", tok, specs, 4096, SYSTEM)
    trained = r.labels[r.labels != IGNORE_INDEX].tolist()
    return tok.decode(trained), tok.decode(r.input_ids[r.modality_ids == QUERY].tolist()), trained


def official_labels() -> dict[int, str]:
    items = json.loads((AVQA / "train_samples_with_reasoning_avqa.json").read_text())
    return {item["question_id"]: item["label"] for item in items}


def test_avqa_moka_trains_on_the_official_label_with_the_official_prompt(convert, llama2):
    status, report, rows, _ = convert(
        convert_music_avqa_train,
        "--format",
        "moka",
        "--input",
        AVQA / "train_samples_with_reasoning_avqa.json",
        "--media-root",
        AVQA / "media",
    )
    assert status == 0 and [r["id"] for r in rows] == ["avqa_501", "avqa_502", "avqa_503"]
    assert (report["read"], report["written"], report["skipped"]) == (3, 3, {})
    labels = official_labels()
    for row, qid in zip(rows, (501, 502, 503)):
        assert row["conversations"][1]["value"] == labels[qid]  # byte for byte, nothing stripped or added
        trained, query, ids = trained_and_query(row, llama2)
        # LLaMA-2 chat: ' ' + answer + ' </s>'; the official code trains label + '</s>' (the one
        # '▁' before '</s>' is the template's, docs/fidelity.md); the label itself is unchanged
        assert trained == labels[qid] + " </s>" and ids[-1] == llama2[0].eos_token_id
        assert query == "Please answer this question: " + row["conversations"][0]["value"].split(": ", 1)[1]
    assert rows[1]["conversations"][0]["value"] == (
        AV_LEAD_IN + "Please answer this question: Is the cello on the left side of the violin?"
    )
    # the list's relative paths name files under the root; item 502's absolute paths of another
    # machine do not, so its files are found by name in the official layout
    assert [(r["video"], r["audio"]) for r in rows[:2]] == [
        ("video_data/00000101.mp4", "audio_data/00000101.mp3"),
        ("video_data/00000102.mp4", "audio_data/00000102.mp3"),
    ]
    assert report["media_from_annotation_paths"] == 3 and report["missing_examples"] == ["audio_data/00000103.mp3"]
    assert rows[0]["answer"] == "two" and rows[0]["type"] == '["Audio", "Counting"]'


def test_avqa_tags_stays_the_default_and_refuses_the_official_list_by_field(convert):
    status, _, _, err = convert(
        convert_music_avqa_train,
        "--input",
        AVQA / "train_samples_with_reasoning_avqa.json",
        "--media-root",
        AVQA / "media",
    )
    assert status == 2 and "question_content" in err and "item 0" in err


def test_avqa_moka_bad_items_are_named(convert, tmp_path):
    items = json.loads((AVQA / "train_samples_with_reasoning_avqa.json").read_text())
    cases = {
        "no_label.json": ([{k: v for k, v in items[0].items() if k != "label"}], "missing field(s) ['label']"),
        "empty_label.json": ([{**items[0], "label": "  "}], "'label' must be a non-empty string"),
        "twice.json": ([items[0], items[0]], "'avqa_501' occurs more than once"),
        "not_a_list.json": ({"0": items[0]}, "top level is a dict"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_text(json.dumps(content))
        status, _, _, err = convert(
            convert_music_avqa_train, "--format", "moka", "--input", tmp_path / name, "--media-root", AVQA / "media"
        )
        assert status == 2 and message in err, (name, err)
        assert name in err or name == "twice.json", err  # a repeated id is named by the id itself


def test_unknown_format_is_refused_naming_the_choices(capsys):
    for module in (convert_music_avqa_train, convert_ave_train):
        with pytest.raises(SystemExit):
            module.main(["--format", "reasoning", "--input", "x", "--output", "y", "--media-root", "."])
        err = capsys.readouterr().err
        assert "--format: invalid choice: 'reasoning'" in err and "tags" in err and "moka" in err


def ave_moka(convert, *extra):
    return convert(
        convert_ave_train,
        "--format",
        "moka",
        "--input",
        AVE / "train_samples_ave.json",
        "--media-root",
        AVE / "media",
        *extra,
    )


def test_ave_moka_trains_on_the_label_file_text(convert, llama2):
    status, report, rows, _ = ave_moka(convert, "--labels", AVE / "converted_label")
    assert status == 0 and [r["id"] for r in rows] == [
        "ave_-0A9suni5YA",
        "ave_0Bx1-bFpvCk",
        "ave_0Bx1-bFpvCk#2",
        "ave_1aEvhTAkJSg",
    ]
    assert (report["read"], report["written"], report["missing_examples"]) == (4, 4, ["audio_data/1aEvhTAkJSg.mp3"])
    for row in rows:
        vid = row["id"].split("_", 1)[1].split("#")[0]
        with (AVE / "converted_label" / f"{vid}.txt").open(encoding="utf-8") as fh:  # read_label: text mode
            label = fh.read()
        assert row["conversations"][1]["value"] == label
        assert row["conversations"][0]["value"] == (
            AV_LEAD_IN + "Please describe the events and time range that occurred in the video."
        )
        trained, query, _ = trained_and_query(row, llama2)
        # the chat template strips the answer's surrounding whitespace (the official code keeps a
        # final newline before '</s>'); everything inside the label is trained as written
        assert trained == label.strip() + " </s>"
        assert query == "Please describe the events and time range that occurred in the video."
    assert (
        rows[3]["conversations"][1]["value"] == "A dog barks.\n<event>Dog</event><range>3,9</range>\n"
    )  # CRLF read as \n
    assert (rows[2]["event"], rows[2]["range"]) == ("Male speech, man speaking", [8, 10])
    assert (rows[0]["video"], rows[0]["audio"]) == ("AVE/-0A9suni5YA.mp4", "audio_data/-0A9suni5YA.mp3")


def test_ave_moka_missing_label_is_named_or_counted(convert, tmp_path):
    labels = tmp_path / "converted_label"
    labels.mkdir()
    for file in (AVE / "converted_label").iterdir():
        if file.stem != "1aEvhTAkJSg":
            (labels / file.name).write_bytes(file.read_bytes())
    status, report, _, err = ave_moka(convert, "--labels", labels)
    assert status == 2 and report is None
    assert "item 3 (vid 1aEvhTAkJSg)" in err and "1aEvhTAkJSg.txt not found" in err and "--drop-missing" in err
    status, report, rows, _ = ave_moka(convert, "--labels", labels, "--drop-missing")
    assert status == 0 and report["skipped"] == {"missing_label": 1} and len(rows) == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "--format moka needs --labels"),
        (("--labels", AVE / "nowhere"), "not a folder"),
        (("--labels", AVE / "converted_label", "--exclude", AVE / "x.txt"), "use them with --format tags"),
    ],
)
def test_ave_moka_flags_are_checked(convert, extra, message):
    status, _, _, err = ave_moka(convert, *extra)
    assert status == 2 and message in err


def test_ave_tags_refuses_labels(convert):
    fix = FIXTURES / "data_prep" / "ave"
    status, _, _, err = convert(
        convert_ave_train, "--input", fix / "trainSet.txt", "--media-root", fix, "--labels", AVE / "converted_label"
    )
    assert status == 2 and "--labels is read with --format moka only" in err
