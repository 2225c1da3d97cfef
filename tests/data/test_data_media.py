"""Media decoding: make_synthetic's clips read back by decord with the requested frame count,
frames sampled at the same instants whatever the fps, audio at 16 kHz mono, images [1,H,W,3]."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from moka_train.data.media import MediaError, load_audio, load_image, load_video, uniform_indices


def test_synthetic_clip_read_by_decord_with_right_frame_count(synthetic_root):
    import decord

    row = json.loads((synthetic_root / "av_qa.jsonl").read_text().splitlines()[0])
    reader = decord.VideoReader(str(synthetic_root / row["video"]))
    assert len(reader) == 24 and reader[0].shape == (32, 32, 3)
    frames = load_video(synthetic_root / row["video"], 10, 224, row["id"])
    assert frames.shape == (10, 224, 224, 3) and frames.dtype == torch.uint8


def test_synthetic_video_answer_is_visible(synthetic_root):
    # the colour question's answer is really in the pixels: the brightest-saturated colour matches
    from moka_train.testing.synthetic import COLOURS

    rows = [json.loads(line) for line in (synthetic_root / "av_qa.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["task"] == "colour")
    frames = load_video(synthetic_root / row["video"], 4, 32).float()  # [F, H, W, 3]
    pixels = frames.reshape(-1, 3)
    distances = {c: (pixels - torch.tensor(rgb)).norm(dim=1).min() for c, rgb in COLOURS.items()}
    assert min(distances, key=distances.get) == row["answer"]


def test_uniform_sampling_is_independent_of_fps(tmp_path):
    from moka_train.testing.synthetic import write_mp4

    # frame value encodes its time; the same 4-second clip at 5 and at 20 fps
    for fps in (5, 20):
        t = np.arange(4 * fps) / fps
        frames = np.repeat((t * 50).astype(np.uint8)[:, None, None, None], 16 * 16 * 3, 1).reshape(-1, 16, 16, 3)
        write_mp4(tmp_path / f"c{fps}.mp4", frames, fps)
    a = load_video(tmp_path / "c5.mp4", 4, 16).float().mean(dim=(1, 2, 3))
    b = load_video(tmp_path / "c20.mp4", 4, 16).float().mean(dim=(1, 2, 3))
    assert torch.allclose(a, b, atol=12)  # within one 5-fps frame step of 10 grey levels
    assert uniform_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]  # short clips repeat frames


def test_wav_is_resampled_to_16k_mono(tmp_path):
    import wave

    rate = 8000
    t = np.arange(rate) / rate
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), -np.sin(2 * np.pi * 440 * t) * 0], 1) * 0.5
    with wave.open(str(tmp_path / "s.wav"), "wb") as fh:
        fh.setnchannels(2)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes((stereo * 32767).astype("<i2").tobytes())
    wav = load_audio(tmp_path / "s.wav", 16000)
    assert wav.shape == (16000,) and wav.dtype == torch.float32
    assert 0.2 < float(wav.abs().max()) < 0.3  # the two channels averaged
    assert load_audio(tmp_path / "s.wav", 16000, max_seconds=0.25).shape == (4000,)


def test_flac_through_ffmpeg(tmp_path):
    av = pytest.importorskip("av")
    rate = 22050
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate) * 32767).astype(np.int16)[None]
    with av.open(str(tmp_path / "t.flac"), "w") as out:
        stream = out.add_stream("flac", rate=rate)
        frame = av.AudioFrame.from_ndarray(x, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    wav = load_audio(tmp_path / "t.flac", 16000)
    assert wav.shape == (16000,) and abs(float(wav.abs().max()) - 0.5) < 0.02


def test_image_and_errors_name_the_file(synthetic_root, tmp_path):
    row = json.loads((synthetic_root / "image_qa.jsonl").read_text().splitlines()[0])
    assert load_image(synthetic_root / row["image"], 48).shape == (1, 48, 48, 3)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(MediaError, match=r"sample s9: cannot read .*bad.png"):
        load_image(tmp_path / "bad.png", 48, "s9")
    (tmp_path / "bad.wav").write_bytes(b"RIFF garbage")
    with pytest.raises(MediaError, match=r"sample s8: cannot read .*bad.wav"):
        load_audio(tmp_path / "bad.wav", 16000, sample_id="s8")


def test_make_synthetic_is_deterministic(tmp_path):
    from moka_train.testing.synthetic import make_synthetic

    for name in ("a", "b"):
        make_synthetic(tmp_path / name, seed=5, num_av=3, num_image=2, num_speech=2, frames=6, size=16)
    for rel in ("av_qa.jsonl", "image_qa.jsonl", "speech_qa.jsonl", "audio/av_00001.wav", "image/img_00001.png"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    answers = [json.loads(x)["answer"] for x in (tmp_path / "a" / "speech_qa.jsonl").read_text().splitlines()]
    assert set(answers) <= {"one", "two", "three", "four"}


@pytest.mark.parametrize(
    "position, picks",
    [("start", [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]), ("centre", [1, 4, 7, 10, 13, 16, 19, 22, 25, 28])],
)
def test_decoded_frames_are_those_the_sampling_position_names(tmp_path, position, picks):
    # frame i of a 30-frame clip has grey level 8 i; the official start positions are
    # np.arange(0, 30, 3) = 0, 3, ..., 27, the segment centres 1, 4, ..., 28
    from moka_train.testing.synthetic import write_mp4

    frames = np.repeat((np.arange(30) * 8).astype(np.uint8)[:, None, None, None], 16 * 16 * 3, 1)
    write_mp4(tmp_path / "ramp.mp4", frames.reshape(-1, 16, 16, 3), 10)
    grey = load_video(tmp_path / "ramp.mp4", 10, 16, position=position).float().mean(dim=(1, 2, 3))
    assert torch.allclose(grey, torch.tensor(picks, dtype=torch.float32) * 8, atol=3)  # codec noise only
