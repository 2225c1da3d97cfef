"""Media bombs (issue 32 item 2) are refused from their headers before decoding, in the one loader
that training, evaluation and serving share. Memory is bounded by a cap on the process (RLIMIT_AS)
rather than by timing: the old loader decoded and resampled the whole file first."""

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from moka_train.data.media import MediaLimits, MediaTooLargeError, check_media, load_media

EXTRA_BYTES = 1536 * 1024**2  # address space the load may add to the process (after its imports)

LOAD_UNDER_CAP = """
import resource, sys
from moka_train.data.media import MediaLimits, MediaError, load_media
import torchaudio.functional, decord, av  # the decoders' own imports are not the load's memory
size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + {extra}, size + {extra}))
try:
    wav = load_media("audio", sys.argv[1], "bomb", frames=1, size=8, limits=MediaLimits(2**30, 3600.0))
except MediaError as err:
    print(type(err).__name__, err)
    sys.exit(3)
print("decoded", wav.shape)
"""


def one_hertz_wav(path: Path, seconds_claimed: int = 400_000) -> Path:
    """A 800 KB WAV whose header says 1 Hz: 400,000 s of audio, 6.4e9 samples once resampled to 16 kHz."""
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(1)
        fh.writeframes(np.zeros(seconds_claimed, "<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def silent_flac(tmp_path_factory) -> Path:
    """75 minutes of 16 kHz silence, ~0.9 MB of FLAC (~290 MB as float samples, GBs inside the decoder)."""
    import av

    path = tmp_path_factory.mktemp("bomb") / "silence.flac"
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=16000, layout="mono")
        minute = np.zeros((1, 16000 * 60), dtype=np.int16)
        for _ in range(75):
            frame = av.AudioFrame.from_ndarray(minute, format="s16", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def load_capped(path: Path) -> subprocess.CompletedProcess:
    script = LOAD_UNDER_CAP.format(extra=EXTRA_BYTES)
    return subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)


def test_one_hertz_wav_is_refused_from_its_header_under_a_memory_cap(tmp_path):
    done = load_capped(one_hertz_wav(tmp_path / "bomb.wav"))
    assert done.returncode == 3, done.stdout + done.stderr[-2000:]
    assert "MediaTooLargeError" in done.stdout and "declares 1 Hz" in done.stdout


def test_hours_of_compressed_silence_are_refused_under_a_memory_cap(silent_flac):
    done = load_capped(silent_flac)
    assert done.returncode == 3, done.stdout + done.stderr[-2000:]
    assert "declares 4500.0 s, above data.media_max_seconds=3600" in done.stdout


def test_byte_cap_and_channel_range(tmp_path):
    big = tmp_path / "big.wav"
    with wave.open(str(big), "wb") as fh:
        fh.setnchannels(64)
        fh.setsampwidth(2)
        fh.setframerate(16000)
        fh.writeframes(np.zeros(64 * 100, "<i2").tobytes())
    with pytest.raises(MediaTooLargeError, match="above data.media_max_bytes=1000"):
        check_media("audio", big, MediaLimits(max_bytes=1000))
    with pytest.raises(MediaTooLargeError, match="declares 64 channels"):
        check_media("audio", big, MediaLimits())


def test_wav_read_stops_at_audio_max_seconds(tmp_path):
    """Only the frames the crop needs are read: the crop equals the whole file read and cut."""
    path = tmp_path / "tone.wav"
    samples = (np.sin(np.arange(48000 * 3) * 0.01) * 9000).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(48000)
        fh.writeframes(samples.tobytes())
    whole = load_media("audio", path, "t", frames=1, size=8)
    cropped = load_media("audio", path, "t", frames=1, size=8, max_seconds=1.0)
    assert cropped.shape[0] == 16000
    assert float((cropped - whole[:16000]).abs().max()) < 1e-4


def test_a_bomb_is_a_bad_sample_in_training(workspace, tmp_path):
    """The training dataset reads through the same loader: the bomb is skipped and counted, the
    batch keeps its size."""
    import os

    from moka_train.config import load_config
    from moka_train.data.dataset import MultimodalDataset
    from moka_train.data.tokenizer import load_tokenizer
    from moka_train.model.build import build_model

    os.environ["DEMO_ROOT"] = str(workspace)
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml")
    root = Path(cfg.data.root)
    one_hertz_wav(root / "bomb_1hz.wav")
    good = json.loads(Path(cfg.data.train_file).read_text().splitlines()[0])
    bomb = {**good, "id": "bomb", "audio": "bomb_1hz.wav"}
    file = tmp_path / "train.jsonl"
    file.write_text(json.dumps(bomb) + "\n" + json.dumps(good) + "\n")
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer, cfg.adapter)
    data = cfg.data.model_copy(update={"max_bad_fraction": 1.0})
    dataset = MultimodalDataset.from_file(file, data, tokenizer, [b.spec for b in model.branches])
    item = dataset[0]
    assert item["id"] == good["id"]
    assert item["bad_samples"][0]["id"] == "bomb" and "declares 1 Hz" in item["bad_samples"][0]["detail"]


def test_video_frames_too_large_to_decode_are_refused(tmp_path, monkeypatch):
    """A video's frame size is read from its header (its frames are decoded whole, one at a time);
    its length is not bounded: only the sampled frames are decoded."""
    import fractions

    import av

    from moka_train.data import media

    path = tmp_path / "long.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fractions.Fraction(1, 100))  # a frame every 100 s: 75 min
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for k in range(45):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts = k
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    check_media("video", path, MediaLimits(max_seconds=60.0))  # long, but only 4 frames are decoded
    monkeypatch.setattr(media, "MAX_VIDEO_PIXELS", 32 * 31)
    with pytest.raises(MediaTooLargeError, match="video frames are 32x32"):
        check_media("video", path, MediaLimits())
