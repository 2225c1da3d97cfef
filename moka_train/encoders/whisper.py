"""The openai-whisper audio encoder from a local ``.pt`` checkpoint, with whisper's own front end.

Checkpoints are ``{"dims": ModelDimensions fields, "model_state_dict": ...}``. They are read with
``weights_only=True`` and only the ``encoder.*`` weights are kept (the text decoder is unused), so
``whisper.load_model`` (which unpickles freely and builds the decoder) is not used.
"""

from __future__ import annotations

from pathlib import Path

import torch
from whisper.audio import HOP_LENGTH, N_FFT, N_SAMPLES, SAMPLE_RATE, mel_filters, pad_or_trim
from whisper.model import AudioEncoder, ModelDimensions

from ..config.sections.model import AUDIO_SAMPLE_RATE, WHISPER_WINDOW_SECONDS
from .base import Encoder, load_strict, load_torch_file, require_path

ENCODER_PREFIX = "encoder."
# the data pipeline decodes at the project's audio rate and the config limits windows to 30 s
if SAMPLE_RATE != AUDIO_SAMPLE_RATE or N_SAMPLES != WHISPER_WINDOW_SECONDS * AUDIO_SAMPLE_RATE:
    raise ImportError(
        f"openai-whisper expects {SAMPLE_RATE} Hz / {N_SAMPLES} samples per window; "
        f"moka_train decodes at {AUDIO_SAMPLE_RATE} Hz with {WHISPER_WINDOW_SECONDS:g} s windows"
    )


def log_mel_batch(audio: torch.Tensor, n_mels: int) -> torch.Tensor:
    """``whisper.log_mel_spectrogram`` for a batch ``[N, S]`` -> ``[N, n_mels, S // 160]``.

    Whisper clamps each spectrogram to 8 (log10) below *its own* maximum; calling the library
    function on a batch would take one maximum over the whole batch, so the clamp is per row here.
    """
    window = torch.hann_window(N_FFT, device=audio.device)
    stft = torch.stft(audio, N_FFT, HOP_LENGTH, window=window, return_complex=True)  # [N, F, T+1]
    power = stft[..., :-1].abs() ** 2  # [N, F, T]: whisper drops the last frame
    mel = mel_filters(audio.device, n_mels) @ power  # [N, M, T]
    log_spec = mel.clamp(min=1e-10).log10()
    peak = log_spec.amax(dim=(-2, -1), keepdim=True)  # [N, 1, 1]
    return (torch.maximum(log_spec, peak - 8.0) + 4.0) / 4.0


class WhisperEncoder(Encoder):
    """Whisper's encoder on 30 s windows: ``preprocess`` pads 16 kHz audio windows (at most 30 s:
    the config refuses longer ones, and audio beyond the windows is counted in the data report as
    ``audio_truncated``) to 30 s and makes the log-mel; ``forward`` returns
    ``[N, n_audio_ctx, n_audio_state]`` (1500 frames per window)."""

    def __init__(self, path: str | Path, key: str = "encoder.path"):
        super().__init__()
        file = require_path(path, key, "file")
        what = f"{key}: whisper checkpoint {str(file)!r}"
        checkpoint = load_torch_file(file)
        if not isinstance(checkpoint, dict) or not {"dims", "model_state_dict"} <= checkpoint.keys():
            raise ValueError(f"{what}: expected a dict with 'dims' and 'model_state_dict'")
        self.dims = ModelDimensions(**checkpoint["dims"])
        d = self.dims
        self.model = AudioEncoder(d.n_mels, d.n_audio_ctx, d.n_audio_state, d.n_audio_head, d.n_audio_layer)
        state = {
            k[len(ENCODER_PREFIX) :]: v
            for k, v in checkpoint["model_state_dict"].items()
            if k.startswith(ENCODER_PREFIX)
        }
        load_strict(self.model, state, what)
        self.output_dim = d.n_audio_state

    def preprocess(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``[N, S]`` (or ``[S]``) 16 kHz float audio -> ``[N, n_mels, 3000]`` log-mel of 30 s windows."""
        audio = torch.as_tensor(waveforms).float()
        if audio.dim() == 1:
            audio = audio.unsqueeze(0)  # [1, S]
        return log_mel_batch(pad_or_trim(audio, N_SAMPLES), self.dims.n_mels)

    def num_tokens(self, seconds: float | None = None) -> int:
        return self.dims.n_audio_ctx  # every input is padded or trimmed to one 30 s window

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.model(mel.to(self.model.conv1.weight.dtype))  # [N, L, D]
