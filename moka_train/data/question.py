"""One question about some media, made into the sample the dataset renders: the one prompt
builder of ``moka-train infer --question``, the server and the lmms-eval plugin.

The prompt is the recipes' official question form (GeWu-Lab/MokA AudioVisualText/dataset/
unified_dataset.py, lines 73 and 295: the training instruction and the AVQA test prompt are the
same text), :func:`moka_train.data.official_prompt.question_prompt`::

    This is a video:\\n<video>\\nThis is an audio:\\n<audio>\\nPlease answer this question: Q

one lead-in per medium given, in the recipe's modality order, then the question. A text that
already places a placeholder of its media (a benchmark row or lmms-eval task written in the
official form, a client writing ``<image>`` itself) is the caller's own prompt and is kept as
written (the renderer adds the lead-in of a medium whose placeholder it lacks).

The sample is built in memory: media are local files (:class:`~pathlib.Path`) or bytes
(:class:`~moka_train.data.media.MediaBytes`, read by the loaders from memory), never written to
a scratch directory.
"""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..modality import ModalitySpec
from .media import MediaBytes
from .official_prompt import media_lead_in, question_prompt
from .records import Sample
from .templates import Turn


class QuestionError(ValueError):
    """A question that cannot be answered as given (unknown modality, unreadable media, ...)."""


@dataclass(frozen=True)
class Media:
    """One media input: a local file, or bytes (with the file suffix that says their format), or a
    waveform (float samples in [-1, 1] and their rate)."""

    path: Path | None = None
    data: bytes | None = None
    suffix: str = ""
    waveform: np.ndarray | None = None
    sample_rate: int = 0

    def source(self, name: str) -> Path | MediaBytes:
        """What the loaders read: the file itself, or the bytes in memory (a waveform as 16-bit
        WAV bytes); ``name`` is what errors call an in-memory input."""
        if self.path is not None:
            path = Path(self.path).resolve()
            if not path.is_file():
                raise QuestionError(f"media file not found: {self.path}")
            return path
        if self.data is not None:
            if not re.fullmatch(r"\.[A-Za-z0-9]{1,8}", self.suffix):
                raise QuestionError(f"the {name} input: its format suffix must look like '.wav', got {self.suffix!r}")
            return MediaBytes(self.data, self.suffix.lower(), f"the {name} input")
        samples = np.asarray(self.waveform, dtype=np.float32)
        return MediaBytes(wav_bytes(samples, self.sample_rate), ".wav", f"the {name} input")


@dataclass(frozen=True)
class Question:
    """A conversation whose last turn is the user's; ``media`` maps modality name -> input."""

    turns: Sequence[tuple[str, str]]  # (role "user" | "assistant", text), alternating, user first and last
    media: dict[str, Media] = field(default_factory=dict)
    system: str | None = None


@dataclass(frozen=True)
class InMemorySample(Sample):
    """A sample whose media are already located (``sources``: modality -> file or bytes), not
    paths under ``data.root``; ``media`` names each input for the prediction row."""

    sources: dict[str, Path | MediaBytes] = field(default_factory=dict)


def first_turn(question: str, media: Sequence[str], modalities: Sequence[ModalitySpec]) -> str:
    """The official prompt of ``question`` about ``media`` (modality names); a question that
    already places one of their placeholders is kept as written."""
    given = [m for m in modalities if m.name in media]
    if any(m.placeholder in question for m in given):
        return question
    return question_prompt("".join(media_lead_in(m.name, m.placeholder) for m in given), question)


def question_sample(question: Question, sample_id: str, modalities: Sequence[ModalitySpec]) -> InMemorySample:
    """The sample of ``question``: its first user turn in the official prompt form, its media
    located (files checked to exist, bytes kept in memory)."""
    names = {m.name for m in modalities}
    unknown = sorted(set(question.media) - names)
    if unknown:
        raise QuestionError(f"unknown modalities {unknown}; this model takes {sorted(names)}")
    turns = [
        Turn(role, first_turn(text, list(question.media), modalities) if k == 0 else text)
        for k, (role, text) in enumerate(question.turns)
    ]
    sources = {name: media.source(name) for name, media in question.media.items()}
    labels = {name: f"<{name} input>" for name in question.media}
    return InMemorySample(
        sample_id, tuple(turns), labels, system=question.system, source=f"question {sample_id}", sources=sources
    )


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV bytes (a multi-channel ``[N, C]`` array is averaged); the loader resamples."""
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.ndim != 1 or samples.size == 0 or sample_rate <= 0:
        raise QuestionError(
            f"audio must be a non-empty 1-D waveform with a positive rate, got shape "
            f"{samples.shape} at {sample_rate} Hz"
        )
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(int(sample_rate))
        fh.writeframes(pcm.tobytes())
    return buffer.getvalue()
