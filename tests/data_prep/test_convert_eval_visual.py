"""MME, MMBench, POPE and SEED-Bench converters on hand-made copies of the published formats."""

import json
from pathlib import Path

import convert_mmbench
import convert_mme
import convert_pope
import convert_seed

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "data_prep"


def test_mme_both_layouts_two_rows_per_image():
    root = FIX / "mme"
    rows = convert_mme.convert(root / "MME_Benchmark_release_version", root)
    assert [(r["subtask"], r["answer"]) for r in rows] == [("artwork", "yes"), ("artwork", "no"), ("existence", "yes"),
                                                          ("existence", "no")]
    assert rows[0]["image"] == "MME_Benchmark_release_version/artwork/images/10002.jpg"
    assert rows[2]["image"] == "MME_Benchmark_release_version/existence/000000006040.jpg"
    assert rows[3]["conversations"][0]["value"].endswith(
        "no other content. Question: Is there a bed in this image? Please answer yes or no.")


def test_mmbench_decodes_images_and_drops_empty_options(tmp_path):
    rows = convert_mmbench.convert(convert_mmbench.read_tsv(FIX / "mmbench" / "mmbench_dev_small.tsv"), tmp_path)
    assert rows[0]["options"] == {"A": "red", "B": "blue", "C": "green"} and rows[0]["hint"] == ""
    assert (rows[0]["image"], rows[1]["image"]) == ("mmbench_images/241.png", "mmbench_images/242.jpg")
    assert (tmp_path / "mmbench_images" / "241.png").read_bytes() == b"\x89PNG\r\n\x1a\nfake"
    assert rows[1]["conversations"][0]["value"] == (
        "This is an image:\n<image>\nLook at the animals.\nWhich one is a dog?\n(A) cat\n(B) dog\n"
        "Output only the selected option in the format (A), (B), (C), or (D).")
    assert (rows[1]["answer"], rows[1]["category"], rows[1]["l2-category"]) == ("B", "object_localization",
                                                                                "finegrained_perception")


def test_pope_split_from_file_name(tmp_path):
    out = tmp_path / "pope.jsonl"
    report = convert_pope.main(["--input", str(FIX / "pope"), "--output", str(out), "--media-root", str(tmp_path)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["split"], r["answer"]) for r in rows] == [
        ("adversarial-1", "adversarial", "yes"), ("random-1", "random", "yes"), ("random-2", "random", "no")]
    assert rows[0]["image"] == "val2014/COCO_val2014_000000210789.jpg"
    assert (report["media_files"], report["missing_media"]) == (2, 2)


def test_seed_video_questions_use_first_frame():
    bench = json.loads((FIX / "seed" / "SEED-Bench.json").read_text())
    image_q, video_q = convert_seed.convert(bench)
    assert (image_q["image"], image_q["dimension"], image_q["answer"]) == (
        "SEED-Bench-image/1454426_2591111986.jpg", "Instance Counting", "A")
    assert (video_q["image"], video_q["dimension"]) == ("SEED-Bench-video-frames/v_abc123.png", "Action Recognition")
    assert "(C) Pouring\n(D) Cutting\nOutput only" in video_q["conversations"][0]["value"]
