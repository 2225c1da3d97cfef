"""Training-set converters: each turns its hand-made raw fixture into the expected unified lines,
reports missing media, and its output renders with the real pipeline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "data_prep_train"
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "data_prep"))  # converters run as scripts

import convert_aokvqa  # noqa: E402
import convert_ave_train  # noqa: E402
import convert_captions  # noqa: E402
import convert_gigaspeech  # noqa: E402
import convert_librispeech_instruct  # noqa: E402
import convert_llava_instruct  # noqa: E402
import convert_music_avqa_train  # noqa: E402

from moka_train.data.records import parse_record  # noqa: E402


def human(row):
    return row["conversations"][0]["value"]


def test_music_avqa_fills_templates_and_reports_missing_audio():
    conv = convert_music_avqa_train.convert(FIX / "music_avqa/avqa-train.json", FIX / "music_avqa/media")
    assert [r["id"] for r in conv.rows] == ["avqa_1", "avqa_2", "avqa_3"]
    assert conv.skipped == {"question_deleted": 1}
    assert conv.missing == ["audio/00000273.wav"]
    third = conv.rows[2]
    assert human(third).endswith("Please answer this question: Is the cello on the left side of the violin?")
    assert human(third).startswith("This is a video:\n<video>\nThis is an audio:\n<audio>\n")
    assert third["conversations"][1]["value"] == "<answer>yes</answer>"
    assert third["video"] == "video/00000273.mp4" and third["question_type"] == ["Visual", "Location"]
    with pytest.raises(ValueError, match="2 slots but 1 values"):
        convert_music_avqa_train.fill_template("<Object> and <Object>", ["a"])


def test_ave_keeps_the_train_split_with_event_and_range():
    conv = convert_ave_train.convert(FIX / "ave/Annotations.txt", FIX / "ave/trainSet.txt", FIX / "ave/media")
    assert [r["id"] for r in conv.rows] == ["ave_RUhOCu3LNXM", "ave_MFu3FGqDRgM"] and not conv.missing
    assert conv.rows[1]["conversations"][1]["value"] == "<event>Male speech, man speaking</event><range>2,7</range>"
    assert human(conv.rows[0]).endswith(convert_ave_train.AVE_QUESTION)


def test_llava_instruct_moves_placeholder_to_the_lead_in():
    conv = convert_llava_instruct.convert(FIX / "llava_instruct/llava_instruct_150k.json", FIX / "llava_instruct/media",
                                          image_dir="coco/train2017")
    assert [r["id"] for r in conv.rows] == ["llava_000000033471", "llava_000000052846"]
    assert conv.skipped == {"empty_conversation": 1} and conv.missing == ["coco/train2017/000000052846.jpg"]
    turns = conv.rows[0]["conversations"]
    assert turns[0]["value"] == "This is an image:\n<image>\nWhat are the colors of the bus in the image?"
    assert len(turns) == 4 and "<image>" not in turns[2]["value"]


def test_aokvqa_multiple_choice_and_seeded_subset():
    conv = convert_aokvqa.convert(FIX / "aokvqa/aokvqa_v1p0_train.json", FIX / "aokvqa/media", "coco/train2017")
    first = conv.rows[0]
    assert first["image"] == "coco/train2017/000000299207.jpg" and not conv.missing
    assert "(D) cab" in human(first) and first["conversations"][1]["value"] == "(D) cab" and first["answer"] == "D"
    one = convert_aokvqa.convert(FIX / "aokvqa/aokvqa_v1p0_train.json", FIX / "aokvqa/media", limit=1, seed=3)
    assert len(one.rows) == 1
    again = convert_aokvqa.convert(FIX / "aokvqa/aokvqa_v1p0_train.json", FIX / "aokvqa/media", limit=1, seed=3)
    assert one.rows == again.rows


def test_librispeech_asr_instructions():
    media = FIX / "librispeech/media"
    conv = convert_librispeech_instruct.convert(media / "LibriSpeech/train-clean-100", media)
    ids = [r["id"] for r in conv.rows]
    assert ids == ["ls_19-198-0000", "ls_19-198-0001", "ls_26-495-0000"]
    assert conv.missing == ["LibriSpeech/train-clean-100/19/198/19-198-0001.flac"]
    row = conv.rows[1]
    assert row["conversations"][1]["value"] == "this little work was finished in the year eighteen o three"
    assert human(row).split("\n")[-1] in convert_librispeech_instruct.ASR_PROMPTS


def test_gigaspeech_subset_garbage_and_punctuation():
    conv = convert_gigaspeech.convert(FIX / "gigaspeech/GigaSpeech.json", FIX / "gigaspeech/media", subset="M")
    assert [r["id"] for r in conv.rows] == ["gs_POD0000000001_S0000008", "gs_POD0000000001_S0000011"]
    assert conv.skipped == {"garbage_utterance": 1}
    assert conv.rows[0]["conversations"][1]["value"] == "as they're leaving, can kash pull zahra aside really quickly?"
    assert conv.missing == ["segments/POD0000000001_S0000011.wav"]


def test_captions_video_llava_and_audiocaps():
    vl = convert_captions.convert_video_llava(FIX / "captions/video_llava.json", FIX / "captions/media")
    assert [(r["id"], r.get("video"), r.get("image")) for r in vl.rows] == [
        ("vl_v_1", "valley/000001.mp4", None), ("vl_i_2", None, "llava_image/00002.jpg")]
    assert vl.rows[0]["conversations"][1]["value"] == "A man rides a bike down a hill."
    assert vl.skipped == {"no_media": 1}
    ac = convert_captions.convert_audiocaps(FIX / "captions/audiocaps_train.csv", FIX / "captions/media")
    assert [r["audio"] for r in ac.rows] == ["audio/r1nicOVtvkQ_130.wav", "audio/UDGBjjwyaqE_20.wav"]
    assert ac.missing == ["audio/UDGBjjwyaqE_20.wav"]


def test_cli_writes_jsonl_that_the_pipeline_reads(tmp_path, capsys, load_tokenizer, specs):
    from moka_train.data.tokenize import render
    from moka_train.modality import QUERY

    out = tmp_path / "avqa.jsonl"
    assert convert_music_avqa_train.main(["--input", str(FIX / "music_avqa/avqa-train.json"), "--media-root",
                                          str(FIX / "music_avqa/media"), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == 3 and summary["missing_media"] == 1
    tok = load_tokenizer("llama2")
    for k, line in enumerate(out.read_text().splitlines()):
        r = render(parse_record(line, f"{out}:{k + 1}"), "llama2", tok, specs, 4096, "You are a helpful assistant.")
        query = tok.decode(r.input_ids[r.modality_ids == QUERY].tolist())
        assert query.startswith("Please answer this question: ") and "<answer>" not in query
