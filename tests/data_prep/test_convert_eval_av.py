"""MUSIC-AVQA test and AVE test converters on hand-made copies of the published formats."""

import json
from pathlib import Path

import pytest

import convert_ave_test
import convert_music_avqa_test

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "data_prep"


def read(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_music_avqa_fills_templates_and_reports_missing_media(tmp_path, capsys):
    out = tmp_path / "avqa.jsonl"
    report = convert_music_avqa_test.main(["--input", str(FIX / "music_avqa" / "avqa-test.json"), "--output", str(out),
                                           "--media-root", str(FIX / "music_avqa" / "media")])
    rows = read(out)
    assert rows[0]["question"] == "How many piano are in the entire video?"
    assert (rows[0]["id"], rows[0]["answer"], rows[0]["video"], rows[0]["audio"]) == (
        "40", "one", "videos/00000272.mp4", "audio/00000272.wav")
    assert rows[1]["question"] == "Where is the first sounding instrument?" and rows[1]["type"] == '["Audio-Visual", "Temporal"]'
    assert rows[0]["conversations"][0]["value"].endswith("Please answer this question: How many piano are in the entire video?")
    # the second video's two files are absent from the media root
    assert (report["rows"], report["media_files"], report["missing_media"]) == (2, 4, 2)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["missing_media"] == 2


def test_ave_truth_in_the_scorer_form_first_line_wins(tmp_path):
    entries = convert_ave_test.parse_lines((FIX / "ave" / "testSet.txt").read_text())
    rows = convert_ave_test.convert(entries)
    assert [r["id"] for r in rows] == ["RUhOCu3LNXM", "abc123"]  # header skipped, duplicate video kept once
    assert rows[1]["answer"] == "event:Bark start_time:2 end_time:6"
    assert rows[1]["question"] == convert_ave_test.QUESTION and rows[1]["video"] == "AVE/abc123.mp4"


def test_ave_bad_line_is_named():
    with pytest.raises(ValueError, match="testSet.txt:2: expected Category&VideoID"):
        convert_ave_test.parse_lines("Bark&a&good&0&10\nBark&b&good\n", "testSet.txt")
