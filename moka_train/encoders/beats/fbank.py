"""BEATs' audio front end: Kaldi log-mel filterbank, batched over segments, then the official
normalisation.

``torchaudio.compliance.kaldi.fbank`` takes one waveform at a time, so the framing and spectrum
are written here as batched tensor ops with the same Kaldi defaults (snip edges, DC removal,
pre-emphasis 0.97, Povey window, FFT size rounded up to a power of two, power spectrum, no dither);
the mel filter matrix is torchaudio's own ``get_mel_banks``. Tests compare against ``fbank``.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torchaudio.compliance.kaldi import get_mel_banks

from ...config.sections.model import AUDIO_SAMPLE_RATE

SAMPLE_RATE = AUDIO_SAMPLE_RATE  # BEATs was trained on 16 kHz fbanks (the project's one audio rate)
NUM_MEL_BINS = 128
FBANK_MEAN = 15.41663  # statistics BEATs was trained with
FBANK_STD = 6.55582
PCM_SCALE = 2**15  # BEATs feeds 16-bit PCM magnitudes, not [-1, 1] floats


@lru_cache(maxsize=8)
def _mel_matrix(num_mel_bins: int, fft_size: int, sample_rate: int) -> torch.Tensor:
    """``[num_mel_bins, fft_size // 2 + 1]``: Kaldi triangles, low 20 Hz to Nyquist."""
    banks, _ = get_mel_banks(num_mel_bins, fft_size, float(sample_rate), 20.0, 0.0, 100.0, -500.0, 1.0)
    return F.pad(banks, (0, 1))  # Kaldi leaves the Nyquist bin out of every filter


def kaldi_fbank(
    waveforms: torch.Tensor,
    num_mel_bins: int = NUM_MEL_BINS,
    sample_rate: int = SAMPLE_RATE,
    frame_length_ms: float = 25.0,
    frame_shift_ms: float = 10.0,
) -> torch.Tensor:
    """Kaldi log-mel energies of each row of ``waveforms [N, S]``: ``[N, T, num_mel_bins]`` with
    ``T = 1 + (S - window) // shift`` (Kaldi's snip_edges)."""
    window = int(sample_rate * frame_length_ms / 1000)
    shift = int(sample_rate * frame_shift_ms / 1000)
    if waveforms.shape[-1] < window:
        raise ValueError(f"audio of {waveforms.shape[-1]} samples is shorter than one {window}-sample frame")
    fft_size = 1 << (window - 1).bit_length()
    frames = waveforms.unfold(-1, window, shift)  # [N, T, W]
    frames = frames - frames.mean(dim=-1, keepdim=True)
    previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)  # Kaldi repeats sample 0
    frames = frames - 0.97 * previous
    povey = torch.hann_window(window, periodic=False, dtype=frames.dtype, device=frames.device).pow(0.85)
    power = torch.fft.rfft(frames * povey, n=fft_size).abs().pow(2)  # [N, T, fft/2 + 1]
    mel = _mel_matrix(num_mel_bins, fft_size, sample_rate).to(power)
    energies = power @ mel.T  # [N, T, M]
    return energies.clamp(min=torch.finfo(energies.dtype).eps).log()


def beats_fbank(waveforms: torch.Tensor) -> torch.Tensor:
    """Normalised BEATs input for 16 kHz mono segments ``[N, S]`` in [-1, 1]: ``[N, T, 128]``."""
    if waveforms.dim() == 1:
        waveforms = waveforms.unsqueeze(0)  # [1, S]
    fbank = kaldi_fbank(waveforms.float() * PCM_SCALE)
    return (fbank - FBANK_MEAN) / (2 * FBANK_STD)


def num_frames(num_samples: int, sample_rate: int = SAMPLE_RATE) -> int:
    """Fbank frames of a segment of ``num_samples`` samples (25 ms window, 10 ms shift)."""
    window, shift = sample_rate * 25 // 1000, sample_rate * 10 // 1000
    return 1 + (num_samples - window) // shift
