"""Training-set converters, run through their command lines on records in the published formats
(each fixture folder's PROVENANCE.txt says where the format comes from): the expected unified
lines, the one-line report that accounts for every input row, the known layouts (the release's
and the official MokA one), wrong inputs refused with a message, and output the real pipeline reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIX = FIXTURES / "data_prep_train"
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "data_prep"))  # converters run as scripts

import convert_aokvqa  # noqa: E402
import convert_ave_train  # noqa: E402
import convert_captions  # noqa: E402
import convert_gigaspeech  # noqa: E402
import convert_librispeech_instruct  # noqa: E402
import convert_llava_instruct  # noqa: E402
import convert_music_avqa_train  # noqa: E402
import pytest  # noqa: E402

from moka_train.data.records import parse_record  # noqa: E402


@pytest.fixture
def convert(tmp_path, capsys):
    """Run a converter's CLI: (exit status, its one report line or None, written rows, stderr)."""

    def _run(module, *args):
        out = tmp_path / "out.jsonl"
        status = module.main([*map(str, args), "--output", str(out)])
        captured = capsys.readouterr()
        lines = captured.out.strip().splitlines()
        assert len(lines) <= 1, lines
        rows = [json.loads(x) for x in out.read_text().splitlines()] if out.is_file() else []
        return status, json.loads(lines[0]) if lines else None, rows, captured.err

    return _run


def human(row):
    return row["conversations"][0]["value"]


def test_music_avqa_fills_templates_counts_deleted_and_reports_missing_audio(convert):
    status, report, rows, _ = convert(
        convert_music_avqa_train,
        "--input",
        FIX / "music_avqa/avqa-train.json",
        "--media-root",
        FIX / "music_avqa/media",
    )
    assert status == 0 and [r["id"] for r in rows] == ["avqa_1", "avqa_2", "avqa_3"]
    assert (report["read"], report["written"], report["skipped"]) == (4, 3, {"question_deleted": 1})
    assert report["missing_examples"] == ["audio/00000273.wav"]
    third = rows[2]
    assert human(third) == (
        "This is a video:\n<video>\nThis is an audio:\n<audio>\n"
        "Please answer this question: Is the cello on the left side of the violin?"
    )
    assert third["conversations"][1]["value"] == "<answer>yes</answer>"
    assert third["video"] == "video/00000273.mp4" and third["question_type"] == ["Visual", "Location"]


def test_music_avqa_reads_the_moka_layout(convert):
    _, report, rows, _ = convert(
        convert_music_avqa_train,
        "--input",
        FIX / "music_avqa/avqa-train.json",
        "--media-root",
        FIX / "music_avqa/media_moka",
    )
    assert {(r["video"], r["audio"]) for r in rows} == {
        ("video_data/00000272.mp4", "audio_data/00000272.mp3"),
        ("video_data/00000273.mp4", "audio_data/00000273.mp3"),
    }
    assert report["media_layouts"] == {"video": {"video_data/*.mp4": 3}, "audio": {"audio_data/*.mp3": 3}}


AVE = FIXTURES / "data_prep/ave"
AVE_TRAIN_ROWS = [
    ("ave_RUhOCu3LNXM", "Church bell"),
    ("ave_-1qyr-IzqKY", "Ukulele"),
    ("ave_-9R4WPSKE3Q", "Male speech, man speaking"),
    ("ave_-9R4WPSKE3Q#2", "Female speech, woman speaking"),
]


def test_ave_rows_per_annotation_line_never_a_test_line(convert):
    # -1qyr-IzqKY is annotated twice: Ukulele (train) and Accordion (test); -9R4WPSKE3Q twice in train
    status, report, rows, _ = convert(
        convert_ave_train,
        "--input",
        AVE / "trainSet.txt",
        "--exclude",
        AVE / "testSet.txt",
        "--media-root",
        AVE / "media_moka",
    )
    assert status == 0 and [(r["id"], r["event"]) for r in rows] == AVE_TRAIN_ROWS
    assert rows[1]["conversations"][1]["value"] == "<event>Ukulele</event><range>0,10</range>"
    assert human(rows[0]) == (
        "This is a video:\n<video>\nThis is an audio:\n<audio>\n"
        "Please describe the events and time range that occurred in the video."
    )
    assert (rows[0]["video"], rows[0]["audio"]) == ("AVE/RUhOCu3LNXM.mp4", "audio_data/RUhOCu3LNXM.mp3")  # MokA layout
    assert report["missing_media"] == 0


def test_ave_older_call_selects_lines_too(convert):
    _, report, rows, _ = convert(
        convert_ave_train,
        "--input",
        AVE / "Annotations.txt",
        "--split-file",
        AVE / "trainSet.txt",
        "--media-root",
        AVE / "media_moka",
    )
    assert [(r["id"], r["event"]) for r in rows] == AVE_TRAIN_ROWS
    assert report["skipped"] == {"not_in_split_file": 2}  # Accordion -1qyr-IzqKY and MH3m4AwEcRY: test lines
    _, report, rows, _ = convert(
        convert_ave_train,
        "--input",
        AVE / "Annotations.txt",
        "--exclude",
        AVE / "testSet.txt",
        "--media-root",
        AVE / "media_moka",
    )
    assert "Accordion" not in {r["event"] for r in rows} and report["skipped"] == {"in_excluded_split": 2}


def test_llava_instruct_moves_placeholder_to_the_lead_in(convert):
    _, report, rows, _ = convert(
        convert_llava_instruct,
        "--input",
        FIX / "llava_instruct/llava_instruct_150k.json",
        "--media-root",
        FIX / "llava_instruct/media",
        "--image-dir",
        "coco/train2017",
    )
    assert [r["id"] for r in rows] == ["llava_000000033471", "llava_000000052846"]
    assert report["skipped"] == {"empty_conversation": 1}
    assert report["missing_examples"] == ["coco/train2017/000000052846.jpg"]
    turns = rows[0]["conversations"]
    # every turn asked as the official visual-text code asks it (VT train/train.py 98)
    lead = "This is an image:\n<image>\nPlease answer this question: "
    assert turns[0]["value"] == lead + "What are the colors of the bus in the image?"
    assert len(turns) == 4 and turns[2]["value"].startswith("Please answer this question: ")
    assert "<image>" not in turns[2]["value"]


def test_aokvqa_multiple_choice_and_seeded_subset(convert):
    args = (
        "--input",
        FIX / "aokvqa/aokvqa_v1p0_train.json",
        "--media-root",
        FIX / "aokvqa/media",
        "--image-dir",
        "coco/train2017",
    )
    _, report, rows, _ = convert(convert_aokvqa, *args)
    first = rows[0]
    assert first["image"] == "coco/train2017/000000299207.jpg" and report["missing_media"] == 0
    assert "(D) cab" in human(first) and first["conversations"][1]["value"] == "(D) cab" and first["answer"] == "D"
    _, report, one, _ = convert(convert_aokvqa, *args, "--limit", "1", "--seed", "3")
    _, _, again, _ = convert(convert_aokvqa, *args, "--limit", "1", "--seed", "3")
    assert len(one) == 1 and one == again and report["skipped"] == {"not_sampled": 1}


def test_librispeech_asr_instructions_and_input_outside_the_root(convert, tmp_path):
    media = FIX / "librispeech/media"
    _, report, rows, _ = convert(
        convert_librispeech_instruct, "--input", media / "LibriSpeech/train-clean-100", "--media-root", media
    )
    assert [r["id"] for r in rows] == ["ls_19-198-0000", "ls_19-198-0001", "ls_26-495-0000"]
    assert report["missing_examples"] == ["LibriSpeech/train-clean-100/19/198/19-198-0001.flac"]
    assert rows[1]["conversations"][1]["value"] == "this little work was finished in the year eighteen o three"
    assert human(rows[1]).split("\n")[-1] in convert_librispeech_instruct.ASR_PROMPTS
    status, _, _, err = convert(
        convert_librispeech_instruct, "--input", media / "LibriSpeech/train-clean-100", "--media-root", tmp_path
    )
    assert status == 2 and "is not under --media-root" in err and "Traceback" not in err


def test_gigaspeech_nested_layout_case_insensitive_subset(convert):
    status, report, rows, _ = convert(
        convert_gigaspeech,
        "--input",
        FIX / "gigaspeech/GigaSpeech.json",
        "--subset",
        "m",
        "--media-root",
        FIX / "gigaspeech/media_nested",
    )
    assert status == 0 and [r["id"] for r in rows] == ["gs_POD0000000001_S0000008", "gs_POD0000000001_S0000011"]
    assert rows[0]["speech"] == "audio/POD0000000001/POD0000000001_S0000008.wav"
    assert rows[0]["conversations"][1]["value"] == "as they're leaving, can kash pull zahra aside really quickly?"
    assert report["skipped"] == {"garbage_utterance": 1, "not_in_subset": 1} and report["missing_media"] == 0
    _, report, rows, _ = convert(
        convert_gigaspeech, "--input", FIX / "gigaspeech/GigaSpeech.json", "--media-root", FIX / "gigaspeech/media"
    )  # flat segments/<sid>.wav
    assert rows[0]["speech"] == "segments/POD0000000001_S0000008.wav"
    status, _, _, err = convert(
        convert_gigaspeech, "--input", FIX / "gigaspeech/GigaSpeech.json", "--subset", "large", "--media-root", FIX
    )
    assert status == 2 and "choose from XS, S, M, L, XL" in err


def test_captions_video_llava_and_audiocaps(convert):
    media = FIX / "captions/media"
    _, report, vl, _ = convert(
        convert_captions, "--format", "video-llava", "--input", FIX / "captions/video_llava.json", "--media-root", media
    )
    assert [(r["id"], r.get("video"), r.get("image")) for r in vl] == [
        ("vl_v_1", "valley/000001.mp4", None),
        ("vl_i_2", None, "llava_image/00002.jpg"),
    ]
    # the official stage-1 prompts and targets (AVT dataset/pretrain_dataset.py 78-83, 109-114, 149)
    assert vl[0]["conversations"] == [
        {
            "from": "human",
            "value": "This is a video:\n<video>\nPlease answer the question:\n"
            "Render a clear and concise summary of the video.",
        },
        {"from": "gpt", "value": "A man rides a bike down a hill."},
    ]
    assert vl[1]["conversations"] == [
        {
            "from": "human",
            "value": "This is an image:\n<image>\nPlease answer the question:\n"
            "Write a terse but informative summary of the picture.",
        },
        {"from": "gpt", "value": "a dog on a beach."},
    ]
    assert report["skipped"] == {"no_media": 1}
    _, report, ac, _ = convert(
        convert_captions,
        "--format",
        "audiocaps",
        "--input",
        FIX / "captions/audiocaps_train.csv",
        "--extra-input",
        FIX / "captions/audiocaps_val.csv",
        "--media-root",
        media,
    )
    # train + val into one file, as the official stage 1 reads them
    assert [r["audio"] for r in ac] == [
        "audio/r1nicOVtvkQ_130.wav",
        "audio/UDGBjjwyaqE_20.wav",
        "audio/vfY_TJq7n_U_130.wav",
    ]
    assert report["read"] == 3 and report["missing_examples"] == [
        "audio/UDGBjjwyaqE_20.wav",
        "audio/vfY_TJq7n_U_130.wav",
    ]
    assert ac[0]["conversations"] == [
        {"from": "human", "value": "This is an audio:\n<audio>\nPlease describe this audio."},
        {"from": "gpt", "value": "A woman talks nearby as water pours"},
    ]


def test_captions_wrong_format_fails_loudly(convert):
    status, report, rows, err = convert(
        convert_captions,
        "--format",
        "audiocaps",
        "--input",
        FIX / "captions/moka_audiocaps_train.json",
        "--media-root",
        FIX / "captions/media",
    )
    assert status == 2 and report is None and rows == []
    assert "not an AudioCaps CSV" in err and "audiocap_id,youtube_id,start_time,caption" in err
    status, _, _, err = convert(
        convert_captions,
        "--format",
        "video-llava",
        "--input",
        FIX / "captions/audiocaps_train.csv",
        "--media-root",
        FIX / "captions/media",
    )
    assert status == 2 and "not valid JSON" in err


def test_cli_writes_jsonl_that_the_pipeline_reads(tmp_path, capsys, load_tokenizer, specs):
    from moka_train.data.tokenize import render
    from moka_train.modality import QUERY

    out = tmp_path / "avqa.jsonl"
    assert (
        convert_music_avqa_train.main(
            [
                "--input",
                str(FIX / "music_avqa/avqa-train.json"),
                "--media-root",
                str(FIX / "music_avqa/media"),
                "--out",
                str(out),
            ]
        )
        == 0
    )  # --out: the old flag
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == 3 and summary["missing_media"] == 1
    tok = load_tokenizer("llama2")
    for k, line in enumerate(out.read_text().splitlines()):
        r = render(parse_record(line, f"{out}:{k + 1}"), "llama2", tok, specs, 4096, "You are a helpful assistant.")
        query = tok.decode(r.input_ids[r.modality_ids == QUERY].tolist())
        assert query.startswith("Please answer this question: ") and "<answer>" not in query
