"""MMAU, AIR-Bench and LibriSpeech converters, and data_prep/common, on hand-made inputs."""

import json
from pathlib import Path

import pytest

import common
import convert_airbench
import convert_librispeech
import convert_mmau

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "data_prep"


def test_mmau_keeps_speech_only():
    rows = convert_mmau.convert(json.loads((FIX / "mmau" / "mmau-test-mini.json").read_text()), audio_prefix="mmau")
    assert len(rows) == 1
    assert (rows[0]["id"], rows[0]["speech"], rows[0]["answer"]) == ("a1", "mmau/test-mini-audios/a1.wav", "Sad")
    assert rows[0]["choices"] == ["Happy", "Sad", "Angry", "Neutral"] and rows[0]["category"] == "Emotion Recognition"
    assert "<speech>" in rows[0]["conversations"][0]["value"]


def test_airbench_speech_en_tasks_and_paths():
    rows = convert_airbench.convert(json.loads((FIX / "airbench" / "Foundation_meta.json").read_text()))
    assert len(rows) == 1  # language identification is not an English-speech task
    assert rows[0]["speech"] == "Foundation/Speaker_Gender_Recognition_common_voice/1272-128104-0000.wav"
    assert (rows[0]["options"], rows[0]["answer"], rows[0]["id"]) == (["male", "female"], "male", "7")


def test_librispeech_rows_and_missing_clip(tmp_path):
    out = tmp_path / "ls.jsonl"
    report = convert_librispeech.main(["--input", str(FIX / "librispeech" / "LibriSpeech" / "test-clean"),
                                       "--output", str(out), "--media-root", str(FIX / "librispeech")])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0] == {**rows[0], "id": "1089-134686-0000", "split": "test-clean",
                       "speech": "LibriSpeech/test-clean/1089/134686/1089-134686-0000.flac",
                       "answer": "HE HOPED THERE WOULD BE STEW FOR DINNER"}
    assert report["missing_examples"] == ["LibriSpeech/test-clean/1089/134686/1089-134686-0001.flac"]


def test_media_outside_root_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is not under --media-root"):
        convert_librispeech.convert(FIX / "librispeech", tmp_path)


def test_common_write_and_report(tmp_path):
    rows = [{"id": "1", "image": "a.jpg"}, {"id": "2", "image": "a.jpg", "audio": "b.wav"}, {"id": "3"}]
    (tmp_path / "a.jpg").write_bytes(b"")
    assert common.write_jsonl(tmp_path / "sub" / "x.jsonl", rows) == 3
    assert [json.loads(x)["id"] for x in (tmp_path / "sub" / "x.jsonl").read_text().splitlines()] == ["1", "2", "3"]
    assert common.media_report(rows, tmp_path) == {"rows": 3, "media_files": 2, "missing_media": 1,
                                                   "missing_examples": ["b.wav"]}
