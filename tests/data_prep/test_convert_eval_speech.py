"""MMAU, AIR-Bench and LibriSpeech converters on records in the published formats (see the
fixture folders' PROVENANCE.txt)."""

from pathlib import Path

import convert_airbench
import convert_librispeech
import convert_mmau

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

FIX = FIXTURES / "data_prep"


def test_mmau_keeps_speech_and_counts_the_rest(convert):
    status, report, rows, _ = convert(
        convert_mmau, "--input", FIX / "mmau/mmau-test-mini.json", "--media-root", FIX / "mmau/media"
    )
    assert status == 0 and (report["read"], report["written"]) == (3, 1)
    assert report["skipped"] == {"task_sound": 1, "task_music": 1} and report["missing_media"] == 0
    row = rows[0]
    assert (row["id"], row["speech"], row["answer"]) == (
        "2246a36e-8464-4c60-b7f1-96dd28898630",
        "test-mini-audios/2246a36e-8464-4c60-b7f1-96dd28898630.wav",
        "Thursday",
    )
    # MMAU publishes no prompt: our form (moka_train.eval.protocol.mmau_prompt)
    assert row["conversations"][0]["value"] == (
        "This is a speech:\n<speech>\nPlease answer this question: Which day does Speaker 5 want to borrow the "
        "uniform?\n(A) Saturday\n(B) Thursday\n(C) Monday\n(D) Sunday\n"
        "Output only the selected option in the format (A), (B), (C), or (D)."
    )


def test_airbench_release_task_names_every_item_accounted(convert):
    status, report, rows, _ = convert(
        convert_airbench, "--input", FIX / "airbench/Foundation_meta.json", "--media-root", FIX / "airbench/media"
    )
    assert status == 0
    assert [r["task_name"] for r in rows] == [
        "Speaker_Emotion_Recontion",
        "Speaker_Intent_Classification",
        "Speech_Entity_Reconition",
        "Speaker_Gender_Recognition",
    ]
    assert (report["read"], report["written"]) == (7, 4)
    assert report["skipped"] == {"task_not_selected": 1, "task_not_speech": 1, "task_unknown": 1}
    # the clip's real extension is found (.mp3 under the release's folder), the absent ones reported
    assert rows[3]["speech"] == "Foundation/Speaker_Gender_Recognition_common_voice_13_en/common_voice_en_19664034.mp3"
    assert rows[0]["speech"] == "Foundation/Speaker_Emotion_Recontion_iemocap/Ses01F_impro01_F000.wav"
    assert report["missing_media"] == 2


def test_airbench_prompt_is_the_published_one(convert):
    _, _, rows, _ = convert(
        convert_airbench, "--input", FIX / "airbench/Foundation_meta.json", "--media-root", FIX / "airbench/media"
    )
    # OFA-Sys/AIR-Bench Inference_Foundation.py: question_prompts + '\n' + question + '\n' + choices,
    # choices = f'A. {a}\nB. {b}\nC. {c}\nD. {d}' with item.get(...) (None on a two-option item)
    instruction = (
        "Choose the most suitable answer from options A, B, C, and D to respond the question in next line, "
        "you may only choose A or B or C or D."
    )
    assert (
        rows[3]["conversations"][0]["value"]
        == "This is a speech:\n<speech>\n"
        + instruction
        + "\n"
        + "What is the gender of the speaker?"
        + "\n"
        + "A. male\nB. female\nC. None\nD. None"
    )
    assert rows[3]["options"] == ["male", "female"] and rows[3]["answer"] == "female"


def test_airbench_unknown_task_flag_is_refused(convert):
    status, _, _, err = convert(
        convert_airbench,
        "--input",
        FIX / "airbench/Foundation_meta.json",
        "--media-root",
        FIX,
        "--tasks",
        "Emotion_Recognition",
    )
    assert status == 2 and "Speaker_Emotion_Recontion" in err


def test_librispeech_rows_prompt_and_missing_clip(convert):
    status, report, rows, _ = convert(
        convert_librispeech, "--input", FIX / "librispeech/LibriSpeech/test-clean", "--media-root", FIX / "librispeech"
    )
    assert status == 0
    assert rows[0] == {
        **rows[0],
        "id": "1089-134686-0000",
        "split": "test-clean",
        "speech": "LibriSpeech/test-clean/1089/134686/1089-134686-0000.flac",
        "answer": "HE HOPED THERE WOULD BE STEW FOR DINNER",
    }
    assert (
        rows[0]["conversations"][0]["value"]
        == "This is a speech:\n<speech>\nRecognize the speech and give me the transcription."
    )
    assert report["missing_examples"] == ["LibriSpeech/test-clean/1089/134686/1089-134686-0001.flac"]


def test_librispeech_outside_the_media_root_is_refused(convert, tmp_path):
    status, _, _, err = convert(
        convert_librispeech, "--input", FIX / "librispeech/LibriSpeech/test-clean", "--media-root", tmp_path
    )
    assert status == 2 and "is not under --media-root" in err and "Traceback" not in err
