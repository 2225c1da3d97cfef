"""The SEED-Bench frame extractor: which frames (SEED-Bench's own rule, AILab-CVC/SEED-Bench
model/instruct_blip_interface.py get_index and its callers; expected indices worked out by hand
from that rule) and where they go (keyed per question as the v1_video release keys them)."""

import json
from pathlib import Path

import convert_seed
import extract_seed_frames as seed_frames
import numpy as np
import pytest

from moka_train.testing.synthetic import write_mp4

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# by hand: seg = (n - 1) / 8 over the n frames, offsets int(seg / 2) + round(seg * k) (round half to even)
CASES = [
    (10, 32, 8.0, None, [1, 5, 9, 12, 16, 20, 23, 27]),  # seg = 30/8 = 3.75, start 1; 7.5 -> 8, 22.5 -> 22
    (11, 32, 8.0, [1.0, 3.0], [8, 10, 12, 14, 16, 17, 19, 21]),  # frames 8..24: seg = 15/8, start 0
    (12, 100, 15.0, [18, 30], [18, 19, 21, 22, 24, 25, 26, 28]),  # 12 frames: seg = 11/8, 5.5 -> 6
    (10, 6, 8.0, None, [0, 1, 2, 3, 4]),  # fewer frames than 8: all of them (of len - 1)
]


@pytest.mark.parametrize("dimension, length, fps, segment, expected", CASES)
def test_frame_indices_follow_seed_bench(dimension, length, fps, segment, expected):
    assert seed_frames.frame_indices(dimension, length, fps, segment) == expected


def test_extracts_the_frames_keyed_per_question(tmp_path, capsys):
    levels = np.arange(32) * 8  # frame k is grey level 8k: the extracted frame tells its index
    frames = np.repeat(levels[:, None, None, None], 64 * 64 * 3, axis=1).reshape(32, 64, 64, 3).astype(np.uint8)
    write_mp4(tmp_path / "clip.mp4", frames, fps=8)
    (tmp_path / "ssv2").mkdir()
    (tmp_path / "clip.mp4").rename(tmp_path / "ssv2" / "94328.webm")  # the name SEED gives; decord reads the content
    bench = json.loads((FIXTURES / "data_prep/seed/SEED-Bench.json").read_text())
    (tmp_path / "SEED-Bench.json").write_text(json.dumps(bench))
    out = tmp_path / "v1_video"
    status = seed_frames.main(
        ["--input", str(tmp_path / "SEED-Bench.json"), "--output", str(out), "--ssv2-dir", str(tmp_path / "ssv2")]
    )
    report = json.loads(capsys.readouterr().out)
    assert status == 0 and (report["read"], report["written"]) == (2, 1)
    assert report["skipped"] == {"no_video_dir_given": 1}  # the Epic-Kitchens question
    folder = out / convert_seed.FRAME_FOLDERS[10] / "v1738"
    assert sorted(p.name for p in folder.iterdir()) == [f"{n}.png" for n in range(1, 9)]
    from PIL import Image

    means = [np.asarray(Image.open(folder / f"{n}.png")).mean() for n in range(1, 9)]
    assert np.allclose(means, levels[[1, 5, 9, 12, 16, 20, 23, 27]], atol=3)
