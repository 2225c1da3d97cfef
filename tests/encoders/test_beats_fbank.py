"""The batched Kaldi fbank against torchaudio's own, and the BEATs normalisation."""

import pytest
import torch
import torchaudio.compliance.kaldi as ta_kaldi

from moka_train.encoders.beats.fbank import FBANK_MEAN, FBANK_STD, beats_fbank, kaldi_fbank, num_frames


def _torchaudio_fbank(segment: torch.Tensor) -> torch.Tensor:
    return ta_kaldi.fbank(
        segment.unsqueeze(0), num_mel_bins=128, sample_frequency=16000, frame_length=25, frame_shift=10
    )


@pytest.mark.parametrize("num_samples", [16000, 32000, 4321, 400])
def test_batched_fbank_matches_torchaudio_per_segment(num_samples):
    gen = torch.Generator().manual_seed(num_samples)
    # different loudness per row, and a DC offset, so per-frame processing must stay per row
    segments = torch.randn(3, num_samples, generator=gen) * torch.tensor([[0.01], [0.3], [0.9]]) + 0.05
    scaled = segments * 2**15
    got = kaldi_fbank(scaled)
    expected = torch.stack([_torchaudio_fbank(row) for row in scaled])
    assert got.shape == (3, num_frames(num_samples), 128)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)


def test_beats_fbank_is_scaled_kaldi_fbank_normalised_as_official():
    segments = torch.rand(2, 16000, generator=torch.Generator().manual_seed(0)) * 2 - 1
    expected = torch.stack([(_torchaudio_fbank(row * 2**15) - FBANK_MEAN) / (2 * FBANK_STD) for row in segments])
    got = beats_fbank(segments)
    assert got.shape == (2, 98, 128)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)


def test_frame_counts_of_the_paper_segments():
    assert num_frames(16000) == 98  # AVE: 1 s segments
    assert num_frames(32000) == 198  # MUSIC-AVQA: 2 s segments


def test_too_short_audio_is_refused():
    with pytest.raises(ValueError, match="shorter than one 400-sample frame"):
        kaldi_fbank(torch.zeros(1, 399))
