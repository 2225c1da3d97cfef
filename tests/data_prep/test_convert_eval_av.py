"""MUSIC-AVQA test and AVE test converters on records in the published formats (see the fixture
folders' PROVENANCE.txt). Expected prompts: GeWu-Lab/MokA AudioVisualText/dataset/unified_dataset.py
(test datasets), markers replaced by our placeholders."""

from pathlib import Path

import convert_ave_test
import convert_music_avqa_test

from moka_train.eval.metrics import ave as ave_metric

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

FIX = FIXTURES / "data_prep"


def official_av(text: str) -> str:
    """unified_dataset.py's instruction with our placeholders; <question_start>/<question_end> are
    left to the renderer (they are not media placeholders)."""
    pairs = (
        ("<video_start><video><video_end>", "<video>"),
        ("<audio_start><audio><audio_end>", "<audio>"),
        ("<question_start>", ""),
        ("<question_end>", ""),
    )
    for official, ours in pairs:
        text = text.replace(official, ours)
    return text


def test_music_avqa_prompt_is_the_official_one(convert):
    status, report, rows, _ = convert(
        convert_music_avqa_test, "--input", FIX / "music_avqa/avqa-test.json", "--media-root", FIX / "music_avqa/media"
    )
    assert status == 0 and (report["read"], report["written"], report["duplicate_question_ids"]) == (2, 2, 0)
    question = "How many piano are in the entire video?"
    assert rows[0]["conversations"][0]["value"] == official_av(
        "This is a video:\n<video_start><video><video_end>\nThis is an audio:\n<audio_start><audio><audio_end>\n"
        f"<question_start>Please answer this question: {question}<question_end>"
    )
    assert (rows[0]["id"], rows[0]["answer"], rows[0]["video"], rows[0]["audio"]) == (
        "40",
        "one",
        "videos/00000272.mp4",
        "audio/00000272.wav",
    )
    assert rows[1]["type"] == '["Audio-Visual", "Temporal"]'
    assert (report["missing_media"], report["missing_examples"]) == (2, ["video/00000301.mp4", "audio/00000301.wav"])


def test_music_avqa_finds_the_moka_mp3_layout(convert):
    _, report, rows, _ = convert(
        convert_music_avqa_test,
        "--input",
        FIX / "music_avqa/avqa-test.json",
        "--media-root",
        FIX / "music_avqa/media_moka",
    )
    assert (rows[0]["video"], rows[0]["audio"]) == ("video_data/00000272.mp4", "audio_data/00000272.mp3")
    assert report["media_layouts"]["audio"] == {"audio_data/*.mp3": 1, "missing": 1}


def test_music_avqa_duplicate_ids_fail_or_keep_first(convert):
    old = FIX / "music_avqa/avqa-test-json-old.json"
    status, report, _, err = convert(convert_music_avqa_test, "--input", old, "--media-root", FIX / "music_avqa/media")
    assert status == 2 and report is None and "1 question ids occur more than once (e.g. ['40'])" in err
    status, report, rows, _ = convert(
        convert_music_avqa_test,
        "--input",
        old,
        "--media-root",
        FIX / "music_avqa/media",
        "--on-duplicate",
        "keep-first",
    )
    assert status == 0 and [r["id"] for r in rows] == ["40", "41"] and rows[0]["answer"] == "one"
    assert (report["read"], report["written"], report["skipped"]) == (3, 2, {"duplicate_id": 1})
    assert report["duplicate_question_ids"] == 1 and report["duplicate_id_examples"] == ["40"]


def test_ave_prompt_truth_and_one_row_per_annotation_line(convert):
    status, report, rows, _ = convert(
        convert_ave_test, "--input", FIX / "ave/testSet.txt", "--media-root", FIX / "ave/media_moka"
    )
    assert status == 0 and (report["read"], report["written"]) == (2, 2)
    assert rows[0]["conversations"][0]["value"] == official_av(
        "This is a video:\n<video_start><video><video_end>\nThis is an audio:\n<audio_start><audio><audio_end>\n"
        "<question_start>Please describe the events and time range that occurred in the video.<question_end>"
    )
    assert (rows[0]["id"], rows[0]["answer"]) == ("-1qyr-IzqKY", "event:Accordion start_time:0 end_time:10")
    assert (rows[0]["video"], rows[0]["audio"]) == ("AVE/-1qyr-IzqKY.mp4", "audio_data/-1qyr-IzqKY.mp3")
    assert report["missing_examples"] == ["audio_data/MH3m4AwEcRY.wav"]  # no clip in any layout: the first named


def test_ave_video_annotated_twice_in_one_split_keeps_both_lines(convert, tmp_path):
    split = tmp_path / "testSet.txt"
    split.write_text(
        "Male speech, man speaking&-9R4WPSKE3Q&good&0&10\nFemale speech, woman speaking&-9R4WPSKE3Q&good&0&10\n"
    )
    _, report, rows, _ = convert(convert_ave_test, "--input", split, "--media-root", FIX / "ave/media_moka")
    assert [(r["id"], r["event"]) for r in rows] == [
        ("-9R4WPSKE3Q", "Male speech, man speaking"),
        ("-9R4WPSKE3Q#2", "Female speech, woman speaking"),
    ]
    assert report["skipped"] == {}


def test_ave_converter_and_scorer_share_one_parser(tmp_path):
    text = (FIX / "ave/Annotations.txt").read_text()
    entries = ave_metric.parse_annotations(text, "Annotations.txt")
    assert [(e.video_id, e.category, e.line) for e in entries[1:3]] == [
        ("-1qyr-IzqKY", "Ukulele", 3),
        ("-1qyr-IzqKY", "Accordion", 4),
    ]  # line 1 is the header
    assert ave_metric.read_annotations(FIX / "ave/Annotations.txt")["-1qyr-IzqKY"] == ("Ukulele", [(0, 10)])
    assert convert_ave_test.ave_format.parse_annotations is ave_metric.parse_annotations


def test_ave_bad_line_is_named(convert, tmp_path):
    bad = tmp_path / "testSet.txt"
    bad.write_text("Bark&a&good&0&10\nBark&b&good\n")
    status, _, _, err = convert(convert_ave_test, "--input", bad, "--media-root", tmp_path)
    assert status == 2 and "testSet.txt:2: expected Category&VideoID" in err
