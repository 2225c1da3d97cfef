"""Inputs a training run reads: media paths under data.root (symlinks allowed, `..` refused) and
WAV files whose header promises more than the file holds."""

import wave

import numpy as np
import pytest
import torch

from moka_train.data.media import MediaError, load_audio
from moka_train.testing.synthetic import write_wav
from moka_train.utils.paths import UnsafePathError, resolve_under

RATE = 16000


@pytest.fixture
def linked_root(tmp_path):
    """data.root whose `audio` folder is a symlink to a dataset folder elsewhere (as on clusters)."""
    elsewhere = tmp_path / "datasets" / "audio"
    elsewhere.mkdir(parents=True)
    wave_form = (np.sin(np.arange(RATE // 4) / 5.0) * 0.5).astype(np.float32)
    write_wav(elsewhere / "a.wav", wave_form, RATE)
    root = tmp_path / "root"
    root.mkdir()
    (root / "audio").symlink_to(elsewhere, target_is_directory=True)
    return root, elsewhere, wave_form


def test_symlink_inside_root_pointing_elsewhere_is_followed(linked_root):
    root, elsewhere, wave_form = linked_root
    path = resolve_under(root, "audio/a.wav", "s1")
    assert path == root.resolve() / "audio" / "a.wav" and path.resolve() == (elsewhere / "a.wav").resolve()
    loaded = load_audio(path, RATE, sample_id="s1")
    assert loaded.shape == (len(wave_form),)
    expected = (np.clip(wave_form, -1, 1) * 32767).astype(np.int16).astype(np.float32) / 32768  # 16-bit PCM
    assert torch.equal(loaded, torch.from_numpy(expected))


@pytest.mark.parametrize(
    "bad, why",
    [
        ("../datasets/audio/a.wav", "contains '..'"),
        ("audio/../../datasets/audio/a.wav", "contains '..'"),
        ("/etc/passwd", "is absolute"),
    ],
)
def test_dotdot_and_absolute_paths_are_refused_naming_the_sample(linked_root, bad, why):
    root, _, _ = linked_root
    with pytest.raises(UnsafePathError, match=rf"sample s7: media path '{bad}' {why}"):
        resolve_under(root, bad, "s7")


def test_wav_whose_header_claims_more_frames_is_a_media_error(tmp_path):
    path = tmp_path / "cut.wav"
    write_wav(path, np.zeros(RATE, np.float32), RATE)
    with wave.open(str(path), "rb") as fh:
        claimed, header = fh.getnframes(), path.stat().st_size - fh.getnframes() * fh.getsampwidth()
    path.write_bytes(path.read_bytes()[: header + 2 * 4000])  # the download stopped after 4000 frames
    with pytest.raises(
        MediaError,
        match=rf"sample s3: cannot read .*cut.wav.*header says {claimed} frames, "
        r"the file holds 4000",
    ):
        load_audio(path, RATE, sample_id="s3")
