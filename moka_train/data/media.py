"""Decode raw media: video frames (decord), 16 kHz mono audio, PIL images.

Which frames are decoded follows the modality's sampling plan (``utils.media_sampling``); audio is
decoded (up to ``data.audio_max_seconds``) and cut into the plan's windows by the model, where each
clip's length is known.

Every file is bounded before it is decoded (:func:`check_media`): its size against
``data.media_max_bytes``, and what its header declares: an audio file's duration (it is decoded
whole) against ``data.media_max_seconds``, its sample rate and channels, a video's frame size,
against the fixed ranges below. A file outside them (a
"media bomb": a 40 KB WAV declaring a 1 Hz rate, hours of compressed silence) raises
:class:`MediaTooLargeError` before a sample of it is decoded: a bad sample in training and
evaluation, HTTP 413 in the server. Training, evaluation and serving all read through here; a request's
upload is read from memory (:class:`MediaBytes`) through the same checks, never written to disk.

Every call opens its own reader and closes it before returning, so the functions are safe in
DataLoader worker processes (no handle is shared across a fork). Outputs are *raw*: uint8
frames or float waveforms; each encoder's own preprocessing (normalisation, fbank, mel) runs on
the model side. Every error names the file and the sample id.
"""

from __future__ import annotations

import io
import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config.sections.model import AUDIO_SAMPLE_RATE
from ..utils.media_sampling import SamplingPlan, frame_indices

SAFE_DECODE_SIZE = 224
AUDIO_RATES = (1_000, 384_000)  # Hz a header may declare (telephone speech .. studio masters)
MAX_AUDIO_CHANNELS = 32
MAX_VIDEO_PIXELS = 8192 * 8192  # one decoded frame, before it is resized
_RESAMPLE_MARGIN_S = 0.25  # source read past a crop so the resampler's filter sees what follows it


class MediaError(RuntimeError):
    """Media that cannot be read; ``path`` and ``sample_id`` say which."""

    def __init__(self, path: Path | str, sample_id: str, detail: str):
        super().__init__(f"sample {sample_id}: cannot read {path}: {detail}")
        self.path, self.sample_id, self.detail = str(path), sample_id, detail


class MediaTooLargeError(MediaError):
    """Media over ``data.media_max_bytes`` / ``data.media_max_seconds`` or with an impossible
    header (a media bomb); refused before decoding."""


@dataclass(frozen=True)
class MediaBytes:
    """Media held in memory (a request's upload): its bytes, the file suffix that says their
    format, and what errors call it (never a path). Every loader below reads it as it reads a
    file, through the same header checks and caps."""

    data: bytes
    suffix: str
    name: str = "the media input"

    def __str__(self) -> str:
        return self.name


MediaSource = Path | MediaBytes


def _source(path: Path | str | MediaBytes) -> MediaSource:
    return path if isinstance(path, MediaBytes) else Path(path)


def _opened(source: MediaSource):
    """What a reader opens: the path's string, or a fresh in-memory stream of the bytes."""
    return io.BytesIO(source.data) if isinstance(source, MediaBytes) else str(source)


def _exists(source: MediaSource) -> bool:
    return isinstance(source, MediaBytes) or source.is_file()


@dataclass(frozen=True)
class MediaLimits:
    """Per-file bounds checked before decoding (None: unbounded)."""

    max_bytes: int | None = None
    max_seconds: float | None = None

    @classmethod
    def from_data(cls, cfg) -> MediaLimits:
        """The limits of a ``DataConfig`` (``data.media_max_bytes``, ``data.media_max_seconds``)."""
        return cls(cfg.media_max_bytes, cfg.media_max_seconds)


def check_media(kind: str, path: Path | str | MediaBytes, limits: MediaLimits, sample_id: str = "?") -> None:
    """Raise :class:`MediaTooLargeError` when the file's size, or what its header declares, is out
    of bounds; :class:`MediaError` when the header cannot be read. Nothing is decoded."""
    path = _source(path)
    if not _exists(path):
        raise MediaError(path, sample_id, "file not found")
    size = len(path.data) if isinstance(path, MediaBytes) else path.stat().st_size
    if limits.max_bytes is not None and size > limits.max_bytes:
        raise MediaTooLargeError(path, sample_id, f"{size} bytes, above data.media_max_bytes={limits.max_bytes}")
    try:
        if kind == "audio":
            _check_audio_header(path, limits)
        elif kind == "video":
            _check_video_header(path, limits)
    except MediaError as err:
        raise type(err)(path, sample_id, err.detail) from None
    except Exception as err:  # the container library's own errors: the header is unreadable
        raise MediaError(path, sample_id, f"unreadable header ({type(err).__name__}: {err})") from None


def _bomb(detail: str) -> MediaTooLargeError:
    return MediaTooLargeError("", "", detail)


def _check_duration(seconds: float, limits: MediaLimits, what: str) -> None:
    if limits.max_seconds is not None and seconds > limits.max_seconds:
        raise _bomb(f"{what} declares {seconds:.1f} s, above data.media_max_seconds={limits.max_seconds:g}")


def _check_audio_header(path: MediaSource, limits: MediaLimits) -> None:
    rate, channels, seconds = _audio_header(path, limits)
    if not AUDIO_RATES[0] <= rate <= AUDIO_RATES[1]:
        raise _bomb(f"audio header declares {rate} Hz; accepted rates are {AUDIO_RATES[0]}-{AUDIO_RATES[1]} Hz")
    if not 1 <= channels <= MAX_AUDIO_CHANNELS:
        raise _bomb(f"audio header declares {channels} channels; at most {MAX_AUDIO_CHANNELS} are accepted")
    _check_duration(seconds, limits, "audio")


def _audio_header(path: MediaSource, limits: MediaLimits) -> tuple[int, int, float]:
    """(rate, channels, seconds) from the header; a stream that declares no duration is counted
    packet by packet (nothing kept) up to the limit."""
    if path.suffix.lower() == ".wav":
        with wave.open(_opened(path), "rb") as fh:
            rate, channels = fh.getframerate(), fh.getnchannels()
            return rate, channels, fh.getnframes() / max(rate, 1)
    import av

    with av.open(_opened(path)) as container:
        if not container.streams.audio:
            raise _bomb("no audio stream")
        stream = container.streams.audio[0]
        rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
        if stream.duration is not None and stream.time_base is not None:
            return rate, channels, float(stream.duration * stream.time_base)
        if container.duration is not None:
            return rate, channels, container.duration / av.time_base
        return rate, channels, _counted_seconds(container, stream, limits)


def _counted_seconds(container, stream, limits: MediaLimits) -> float:
    seconds = 0.0
    for frame in container.decode(stream):
        seconds += frame.samples / max(frame.sample_rate, 1)
        _check_duration(seconds, limits, "audio")
    return seconds


def _check_video_header(path: MediaSource, limits: MediaLimits) -> None:
    """Only the frame size: frames are decoded one at a time at the plan's indices (decord
    seeks), so a long video costs time, not memory, and long-video benchmarks stay readable."""
    import av

    with av.open(_opened(path)) as container:
        if not container.streams.video:
            raise _bomb("no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > MAX_VIDEO_PIXELS:
            raise _bomb(f"video frames are {width}x{height}; at most {MAX_VIDEO_PIXELS} pixels a frame are accepted")


def uniform_indices(num_total: int, num_frames: int) -> np.ndarray:
    """Centres of ``num_frames`` equal segments of a clip: the same instants whatever the fps;
    a clip shorter than ``num_frames`` repeats frames rather than changing the output shape."""
    return frame_indices(num_total, num_frames, "centre")


def load_video(
    path: Path | str | MediaBytes, num_frames: int, size: int, sample_id: str = "?", position: str = "centre"
) -> torch.Tensor:
    """``num_frames`` frames spread uniformly over the clip, one at the ``position`` (start or
    centre) of each equal segment → uint8 ``[F, size, size, 3]``.

    decord resizes while decoding (aspect ratio not kept, as the 224x224 official recipes do).
    """
    import decord  # imported here: a worker process initialises its own decoder

    path = _source(path)
    if not _exists(path):
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


def _decode_frames(decord, path: MediaSource, num_frames: int, size: int, position: str) -> np.ndarray:
    reader = decord.VideoReader(_opened(path), width=size, height=size, num_threads=1)
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
    path: Path | str | MediaBytes,
    sample_rate: int = AUDIO_SAMPLE_RATE,
    max_seconds: float | None = None,
    sample_id: str = "?",
    limits: MediaLimits | None = None,
) -> torch.Tensor:
    """Mono float32 waveform in [-1, 1] at ``sample_rate`` → ``[N]``, checked against ``limits``
    first (:func:`check_media`).

    WAV goes through the standard library (exact, no codec; only the frames up to ``max_seconds``
    are read); flac/mp3/mp4/m4a through decord's FFmpeg-based AudioReader, which resamples and
    downmixes while decoding.
    """
    path = _source(path)
    check_media("audio", path, limits or MediaLimits(), sample_id)
    try:
        if path.suffix.lower() == ".wav":
            wav = _read_wav(path, sample_rate, max_seconds)
        else:
            wav = _read_ffmpeg(path, sample_rate)
    except MediaError:
        raise
    except Exception as err:
        raise MediaError(path, sample_id, f"audio decode failed ({type(err).__name__}: {err})") from None
    if wav.numel() == 0:
        raise MediaError(path, sample_id, "audio has no samples")
    if max_seconds is not None:
        wav = wav[: int(max_seconds * sample_rate)]
    return wav


def _read_wav(path: MediaSource, sample_rate: int, max_seconds: float | None = None) -> torch.Tensor:
    with wave.open(_opened(path), "rb") as fh:
        width, channels, rate = fh.getsampwidth(), fh.getnchannels(), fh.getframerate()
        claimed = fh.getnframes()
        if max_seconds is not None:  # the crop, and a margin for the resampler's filter
            claimed = min(claimed, math.ceil((max_seconds + _RESAMPLE_MARGIN_S) * rate))
        raw = fh.readframes(claimed)
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


def _read_ffmpeg(path: MediaSource, sample_rate: int) -> torch.Tensor:
    import decord

    reader = decord.AudioReader(_opened(path), sample_rate=sample_rate, mono=True)
    data = reader[:].asnumpy()  # [1, N]
    del reader
    return torch.from_numpy(np.ascontiguousarray(data.reshape(-1), dtype=np.float32))


def load_image(path: Path | str | MediaBytes, size: int, sample_id: str = "?") -> torch.Tensor:
    """RGB image resized to ``size`` x ``size`` → uint8 ``[1, size, size, 3]`` (a one-frame clip)."""
    from PIL import Image

    path = _source(path)
    if not _exists(path):
        raise MediaError(path, sample_id, "file not found")
    try:
        with Image.open(_opened(path)) as img:
            rgb = img.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
            array = np.asarray(rgb, dtype=np.uint8)
    except Exception as err:
        raise MediaError(path, sample_id, f"image decode failed ({type(err).__name__}: {err})") from None
    return torch.from_numpy(array.copy()).unsqueeze(0)  # [1, H, W, 3]


def load_media(
    kind: str,
    path: Path | MediaBytes,
    sample_id: str,
    *,
    frames: int,
    size: int,
    max_seconds: float | None = None,
    plan: SamplingPlan | None = None,
    limits: MediaLimits | None = None,
) -> torch.Tensor:
    """Dispatch on the modality's kind (``data.media_kinds``); ``plan`` (the modality's sampling)
    sets the frame count and position, else ``frames`` frames at segment centres. ``limits``
    (``MediaLimits.from_data(data config)``) are checked before anything is decoded."""
    limits = limits or MediaLimits()
    if kind == "video":
        count, position = (plan.count, plan.frame_position) if plan is not None else (frames, "centre")
        check_media("video", path, limits, sample_id)
        return load_video(path, count, size, sample_id, position)
    if kind == "audio":
        return load_audio(path, AUDIO_SAMPLE_RATE, max_seconds, sample_id, limits)
    if kind == "image":
        check_media("image", path, limits, sample_id)
        return load_image(path, size, sample_id)
    raise ValueError(f"unknown media kind {kind!r}")
