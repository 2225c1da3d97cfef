"""MME, MMBench, POPE and SEED-Bench converters on records in the published formats (see each
fixture folder's PROVENANCE.txt). The expected prompts are the official MokA scripts' strings
(GeWu-Lab/MokA VisualText/eval_benchmarks/*), copied with the marker triple replaced by our
placeholder, so any drift from the official wording fails here."""

import json
from pathlib import Path

import convert_mmbench
import convert_mme
import convert_pope
import convert_seed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

FIX = FIXTURES / "data_prep"
MARKERS = "<image_start><image><image_end>"


def official(text: str) -> str:
    """The official string with our single placeholder where the official code writes the triple."""
    return text.replace(MARKERS, "<image>")


def test_mme_prompt_is_the_official_one_and_both_layouts_read(convert):
    status, report, rows, _ = convert(
        convert_mme, "--input", FIX / "mme/MME_Benchmark_release_version", "--media-root", FIX / "mme"
    )
    assert status == 0 and (report["read"], report["written"]) == (4, 4)
    assert [(r["subtask"], r["answer"]) for r in rows] == [
        ("artwork", "yes"),
        ("artwork", "no"),
        ("existence", "yes"),
        ("existence", "no"),
    ]
    assert rows[0]["image"] == "MME_Benchmark_release_version/artwork/images/10002.jpg"
    # mme.py: question = qa.split('Please answer yes or no.')[0].strip(); the official instruction in front
    question = "Is there a bed in this image? Please answer yes or no.".split("Please answer yes or no.")[0].strip()
    assert rows[3]["question"] == "Is there a bed in this image?"
    assert rows[3]["conversations"][0]["value"] == official(
        "This is an image:\n<image_start><image><image_end>\nPlease answer this question with yes or no, "
        "and no other content. Question: " + question
    )


def test_mme_line_without_the_phrase_fails_naming_the_line(convert, tmp_path):
    task = tmp_path / "MME" / "count"
    task.mkdir(parents=True)
    (task / "1.txt").write_text("How many dogs are there?\t2\n")
    status, report, _, err = convert(convert_mme, "--input", tmp_path / "MME", "--media-root", tmp_path)
    assert status == 2 and report is None
    assert "1.txt:1" in err and "Please answer yes or no." in err


def test_mmbench_prompt_is_the_official_one(convert, tmp_path):
    status, report, rows, _ = convert(
        convert_mmbench, "--input", FIX / "mmbench/mmbench_dev_small.tsv", "--media-root", tmp_path
    )
    assert status == 0 and report["written"] == 3
    # mmbench.py lines 127-139; "nan" hint and empty option cells are NaN for pandas and left out
    assert rows[0]["conversations"][1]["value"] == official(
        "\n This is an image:\n<image_start><image><image_end>\n" + "Question: What is the main color?\nOptions:"
        "\n(A) red\n(B) blue\n(C) green" + "\n" + "\nPlease select the correct answer from the options above. "
        "Output only the selected option in the format (A), (B), (C), or (D). No explanation or extra text."
    )
    assert rows[1]["conversations"][1]["value"].startswith(
        "\n This is an image:\n<image>\nHint: Look at the animals.\nQuestion: Which one is a dog?\nOptions:"
        "\n(A) cat\n(B) dog\n\n"
    )
    assert rows[0]["hint"] is None and rows[0]["options"] == {"A": "red", "B": "blue", "C": "green"}


def test_mmbench_image_cell_naming_another_row_uses_that_image(convert, tmp_path):
    _, _, rows, _ = convert(convert_mmbench, "--input", FIX / "mmbench/mmbench_dev_small.tsv", "--media-root", tmp_path)
    assert [r["image"] for r in rows] == ["mmbench_images/241.png", "mmbench_images/242.jpg", "mmbench_images/243.jpg"]
    assert (tmp_path / "mmbench_images/243.jpg").read_bytes() == (tmp_path / "mmbench_images/242.jpg").read_bytes()
    assert (tmp_path / "mmbench_images/241.png").read_bytes().startswith(b"\x89PNG")


def test_mmbench_bad_reference_fails_naming_the_row(convert, tmp_path):
    status, _, _, err = convert(
        convert_mmbench, "--input", FIX / "mmbench/mmbench_bad_reference.tsv", "--media-root", tmp_path
    )
    assert status == 2 and "index 300" in err and "'999'" in err and "Traceback" not in err


def test_pope_prompt_is_the_official_one(convert):
    status, report, rows, _ = convert(convert_pope, "--input", FIX / "pope", "--media-root", FIX / "pope/media")
    assert status == 0
    assert [(r["id"], r["split"], r["answer"]) for r in rows] == [
        ("adversarial-1", "adversarial", "yes"),
        ("random-1", "random", "yes"),
        ("random-2", "random", "no"),
    ]
    # pope.py line 163
    assert rows[1]["conversations"][0]["value"] == official(
        "This is an image:\n<image_start><image><image_end>\nPlease answer this question with yes or no, and no other "
        "content. Question: " + "Is there a snowboard in the image?"
    )
    assert (report["missing_media"], report["missing_examples"]) == (1, ["val2014/COCO_val2014_000000210789.jpg"])
    assert report["media_layouts"] == {"image": {"val2014/*.jpg": 2, "missing": 1}}


def test_seed_prompt_is_the_official_one_and_video_frames_are_per_question(convert):
    status, report, rows, _ = convert(
        convert_seed, "--input", FIX / "seed/SEED-Bench.json", "--media-root", FIX / "seed/media"
    )
    assert status == 0 and report["written"] == 3
    image_q, video_q, segment_q = rows
    # seed.py lines 121-131
    assert image_q["conversations"][0]["value"] == official(
        "This is an image:\n<image_start><image><image_end>. Question: "
        + "How many towels are in the image?"
        + "\nOptions:"
        + "\n(A) "
        + "One"
        + "\n(B) "
        + "Two"
        + "\n(C) "
        + "Three"
        + "\n(D) "
        + "Four"
        + "\nPlease select the correct answer from the options above. Output only the selected option in the format "
        "(A), (B), (C), or (D). No explanation or extra text."
    )
    assert image_q["image"] == "SEED-Bench-image/1454426_2591111986.jpg"  # data_id without extension: found as .jpg
    assert video_q["image"] == "v1_video/task10/ssv2_8_frame/v1738/1.png"  # keyed by question id, not the clip
    assert segment_q["image"] == "v1_video/task11/kitchen_8_frame/v1962/1.png"  # not extracted: reported missing
    assert report["missing_examples"] == ["v1_video/task11/kitchen_8_frame/v1962/1.png"]
    assert (video_q["dimension"], video_q["answer"]) == ("Action Recognition", "B")


def test_seed_wrong_format_fails(convert):
    status, _, _, err = convert(convert_seed, "--input", FIX / "mmau/mmau-test-mini.json", "--media-root", FIX)
    assert status == 2 and "expected SEED-Bench.json" in err


def test_mmbench_rows_render_with_the_official_system_prompt(convert, tmp_path):
    """mmbench.py line 221: the classification-assistant system prompt, not data.system_prompt.
    The rendered ids equal the official messages through the real LLaMA-2 chat template."""
    from transformers import AutoTokenizer

    from moka_train.data.records import parse_record
    from moka_train.data.tokenize import add_placeholder_tokens, render
    from moka_train.modality import build_modality_specs

    _, _, rows, _ = convert(convert_mmbench, "--input", FIX / "mmbench/mmbench_dev_small.tsv", "--media-root", tmp_path)
    system = "You are a classification assistant. You need to classify the image into the correct option."
    assert rows[0]["conversations"][0] == {"from": "system", "value": system}
    tok = AutoTokenizer.from_pretrained(FIXTURES / "tokenizers" / "llama2")
    specs = build_modality_specs([("image", "<image>", 1)])  # one token: the ids compare one to one
    add_placeholder_tokens(tok, specs)
    for row in rows:
        sample = parse_record(json.dumps(row), "row")
        rendered = render(sample, "chat", tok, specs, 4096, "You are a helpful assistant.", generation=True)
        official = [
            {"role": "system", "content": system},
            {"role": "user", "content": row["conversations"][1]["value"]},
        ]
        text = tok.apply_chat_template(official, tokenize=False, add_generation_prompt=True)
        assert rendered.input_ids.tolist() == tok(text, add_special_tokens=False).input_ids
