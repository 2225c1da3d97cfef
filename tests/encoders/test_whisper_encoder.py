"""Whisper encoder: checkpoint round trip, batched log-mel equal to whisper's per-sample one."""

import pytest
import torch
import whisper

from moka_train.config.sections.model import EncoderConfig
from moka_train.encoders import CheckpointKeyError, build_encoder
from moka_train.encoders.whisper import log_mel_batch
from moka_train.testing.encoders import make_tiny_whisper, tiny_whisper_model


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    return make_tiny_whisper(tmp_path_factory.mktemp("whisper") / "tiny.pt", seed=4)


def test_round_trip_gives_identical_encoder_features(checkpoint_path):
    encoder = build_encoder(EncoderConfig(type="whisper", path=str(checkpoint_path)))
    reference = tiny_whisper_model(seed=4)
    audio = torch.randn(2, 16000 * 3, generator=torch.Generator().manual_seed(0)) * 0.1
    mel = encoder.preprocess(audio)
    with torch.no_grad():
        got, expected = encoder(mel), reference.encoder(mel)
    assert got.shape == (2, 1500, 32) == (2, encoder.num_tokens(), encoder.output_dim)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_preprocess_equals_whisper_front_end_per_sample():
    """Whisper clamps to 8 below the spectrogram's own peak; a quiet row next to a loud one must
    get its own peak, which calling whisper on the stacked batch would not give."""
    gen = torch.Generator().manual_seed(1)
    audio = torch.randn(2, 16000 * 2, generator=gen) * torch.tensor([[1e-3], [0.8]])
    padded = whisper.pad_or_trim(audio, whisper.audio.N_SAMPLES)
    got = log_mel_batch(padded, n_mels=80)
    expected = torch.stack([whisper.log_mel_spectrogram(row, n_mels=80) for row in padded])
    assert got.shape == (2, 80, 3000)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_long_audio_is_trimmed_to_thirty_seconds(checkpoint_path):
    encoder = build_encoder(EncoderConfig(type="whisper", path=str(checkpoint_path)))
    audio = torch.randn(1, 16000 * 31, generator=torch.Generator().manual_seed(2)) * 0.1
    torch.testing.assert_close(encoder.preprocess(audio), encoder.preprocess(audio[:, : 16000 * 30]))


def test_missing_encoder_weight_is_named(checkpoint_path, tmp_path):
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    del checkpoint["model_state_dict"]["encoder.blocks.1.attn.query.weight"]
    broken = tmp_path / "broken.pt"
    torch.save(checkpoint, broken)
    with pytest.raises(CheckpointKeyError, match=r"blocks\.1\.attn\.query\.weight"):
        build_encoder(EncoderConfig(type="whisper", path=str(broken)))
