"""Decode raw media: video frames (decord), 16 kHz mono audio, PIL images.

Which frames are decoded follows the modality's sampling plan (``utils.media_sampling``); audio is
decoded whole and cut into the plan's windows by the model, where each clip's length is known.

Every call opens its own reader and closes it before returning, so the functions are safe in
DataLoader worker processes (no handle is shared across a fork). Outputs are *raw*: uint8
frames or float waveforms; each encoder's own preprocessing (normalisation, fbank, mel) runs on
the model side. Every error names the file and the sample id.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import torch

from ..config.sections.model import AUDIO_SAMPLE_RATE
from ..utils.media_sampling import SamplingPlan, frame_indices

SAFE_DECODE_SIZE = 224


class MediaError(RuntimeError):
    """Media that cannot be read; ``path`` and ``sample_id`` say which."""

    def __init__(self, path: Path | str, sample_id: str, detail: str):
        super().__init__(f"sample {sample_id}: cannot read {path}: {detail}")
        self.path, self.sample_id = str(path), sample_id


def uniform_indices(num_total: int, num_frames: int) -> np.ndarray:
    """Centres of ``num_frames`` equal segments of a clip: the same instants whatever the fps;
    a clip shorter than ``num_frames`` repeats frames rather than changing the output shape."""
    return frame_indices(num_total, num_frames, "centre")


def load_video(
    path: Path | str, num_frames: int, size: int, sample_id: str = "?", position: str = "centre"
) -> torch.Tensor:
    """``num_frames`` frames spread uniformly over the clip, one at the ``position`` (start or
    centre) of each equal segment → uint8 ``[F, size, size, 3]``.

    decord resizes while decoding (aspect ratio not kept, as the 224x224 official recipes do).
    """
    import decord  # imported here: a worker process initialises its own decoder

    path = Path(path)
    if not path.is_file():
        raise MediaError(path, sample_id, "file not found")
    try:
        try:
            frames = torch.from_numpy(_decode_frames(decord, path, num_frames, size, position))
        except decord.DECORDError:
            # decord 0.6 fails to output some small frame sizes (<= 48 px, also at the native
            # size of a tiny clip: a row-stride check); decode at a size it handles, resize here
            frames = _resize(
                torch.from_numpy(_decode_frames(decord, path, num_frames, SAFE_DECODE_SIZE, position)), size
            )
    except Exception as err:  # decord raises its own DECORDError and RuntimeErrors
        raise MediaError(path, sample_id, f"video decode failed ({type(err).__name__}: {err})") from None
    return frames  # [F, H, W, 3] uint8


def _decode_frames(decord, path: Path, num_frames: int, size: int, position: str) -> np.ndarray:
    reader = decord.VideoReader(str(path), width=size, height=size, num_threads=1)
    total = len(reader)
    if total == 0:
        raise ValueError("no frames")
    frames = reader.get_batch(frame_indices(total, num_frames, position).tolist()).asnumpy()
    del reader  # close the file now, not at some later garbage collection
    return np.ascontiguousarray(frames)


def _resize(frames: torch.Tensor, size: int) -> torch.Tensor:
    x = frames.permute(0, 3, 1, 2).float()  # [F, 3, H, W]
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()  # [F, size, size, 3]


def load_audio(
    path: Path | str, sample_rate: int = AUDIO_SAMPLE_RATE, max_seconds: float | None = None, sample_id: str = "?"
) -> torch.Tensor:
    """Mono float32 waveform in [-1, 1] at ``sample_rate`` → ``[N]``.

    WAV goes through the standard library (exact, no codec); flac/mp3/mp4/m4a through decord's
    FFmpeg-based AudioReader, which resamples and downmixes while decoding.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(path, sample_id, "file not found")
    try:
        wav = _read_wav(path, sample_rate) if path.suffix.lower() == ".wav" else _read_ffmpeg(path, sample_rate)
    except MediaError:
        raise
    except Exception as err:
        raise MediaError(path, sample_id, f"audio decode failed ({type(err).__name__}: {err})") from None
    if wav.numel() == 0:
        raise MediaError(path, sample_id, "audio has no samples")
    if max_seconds is not None:
        wav = wav[: int(max_seconds * sample_rate)]
    return wav


def _read_wav(path: Path, sample_rate: int) -> torch.Tensor:
    with wave.open(str(path), "rb") as fh:
        width, channels, rate = fh.getsampwidth(), fh.getnchannels(), fh.getframerate()
        claimed, raw = fh.getnframes(), fh.readframes(fh.getnframes())
    if len(raw) < claimed * width * channels:  # a cut-off download: never load it short silently
        raise ValueError(
            f"truncated WAV: the header says {claimed} frames, the file holds {len(raw) // (width * channels)}"
        )
    if width == 1:  # 8-bit PCM is unsigned
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        dtype = np.int16 if width == 2 else np.int32
        data = np.frombuffer(raw, dtype).astype(np.float32) / float(np.iinfo(dtype).max + 1)
    else:
        raise ValueError(f"unsupported WAV sample width {width} bytes")
    wav = torch.from_numpy(data.reshape(-1, channels).mean(axis=1))  # [N] mono
    if rate != sample_rate:
        import torchaudio.functional as AF

        wav = AF.resample(wav, rate, sample_rate)
    return wav.float()


def _read_ffmpeg(path: Path, sample_rate: int) -> torch.Tensor:
    import decord

    reader = decord.AudioReader(str(path), sample_rate=sample_rate, mono=True)
    data = reader[:].asnumpy()  # [1, N]
    del reader
    return torch.from_numpy(np.ascontiguousarray(data.reshape(-1), dtype=np.float32))


def load_image(path: Path | str, size: int, sample_id: str = "?") -> torch.Tensor:
    """RGB image resized to ``size`` x ``size`` → uint8 ``[1, size, size, 3]`` (a one-frame clip)."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise MediaError(path, sample_id, "file not found")
    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
            array = np.asarray(rgb, dtype=np.uint8)
    except Exception as err:
        raise MediaError(path, sample_id, f"image decode failed ({type(err).__name__}: {err})") from None
    return torch.from_numpy(array.copy()).unsqueeze(0)  # [1, H, W, 3]


def load_media(
    kind: str,
    path: Path,
    sample_id: str,
    *,
    frames: int,
    size: int,
    max_seconds: float | None = None,
    plan: SamplingPlan | None = None,
) -> torch.Tensor:
    """Dispatch on the modality's kind (``data.media_kinds``); ``plan`` (the modality's sampling)
    sets the frame count and position, else ``frames`` frames at segment centres."""
    if kind == "video":
        count, position = (plan.count, plan.frame_position) if plan is not None else (frames, "centre")
        return load_video(path, count, size, sample_id, position)
    if kind == "audio":
        return load_audio(path, AUDIO_SAMPLE_RATE, max_seconds, sample_id)
    if kind == "image":
        return load_image(path, size, sample_id)
    raise ValueError(f"unknown media kind {kind!r}")
