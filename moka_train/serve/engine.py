"""Answer ad-hoc questions (text + media given in memory or as local files) with a loaded export.

Both the HTTP server and the lmms-eval plugin come here. A batch of questions becomes a unified
JSONL in a scratch directory (the media written or linked under a scratch ``data.root``) and goes
through the same dataset, renderer and batched generation as ``moka-train infer``, so an answer
here is the answer ``infer`` gives for the same record, token for token.
"""

from __future__ import annotations

import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..config import RunConfig
from ..eval.generate import generate_predictions, load_for_inference
from ..eval.protocol import media_lead_in as lead_in  # the official media line, as ``infer --question``
from ..utils.jsonl import write_jsonl


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

    def write(self, target_stem: Path) -> Path:
        """The file under the scratch root that holds this media (a link to a local file)."""
        if self.path is not None:
            source = Path(self.path).resolve()
            if not source.is_file():
                raise QuestionError(f"media file not found: {self.path}")
            target = target_stem.with_suffix(source.suffix)
            target.symlink_to(source)
        elif self.data is not None:
            target = target_stem.with_suffix(self.suffix)
            target.write_bytes(self.data)
        else:
            target = target_stem.with_suffix(".wav")
            write_wav(target, np.asarray(self.waveform, dtype=np.float32), self.sample_rate)
        return target


@dataclass(frozen=True)
class Question:
    """A conversation whose last turn is the user's; ``media`` maps modality name -> input."""

    turns: Sequence[tuple[str, str]]  # (role "user" | "assistant", text), alternating, user first and last
    media: dict[str, Media] = field(default_factory=dict)
    system: str | None = None


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM mono (a multi-channel ``[N, C]`` array is averaged); the loader resamples."""
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.ndim != 1 or samples.size == 0 or sample_rate <= 0:
        raise QuestionError(
            f"audio must be a non-empty 1-D waveform with a positive rate, got shape "
            f"{samples.shape} at {sample_rate} Hz"
        )
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(int(sample_rate))
        fh.writeframes(pcm.tobytes())


class AnswerEngine:
    """A recipe's export loaded once (folded for decoding); answers batches of questions."""

    def __init__(self, cfg: RunConfig, checkpoint: str | Path, fold: bool = True):
        self.cfg = cfg
        self.tokenizer, self.model = load_for_inference(cfg, checkpoint, fold=fold)
        self.placeholders = {m.name: m.placeholder for m in cfg.model.modalities}

    def modality_for_kind(self, kind: str) -> str:
        """The recipe's modality that takes media of ``kind`` (image / video / audio)."""
        names = [n for n in self.placeholders if self.cfg.data.media_kinds.get(n) == kind]
        if kind in names or len(names) == 1:
            return kind if kind in names else names[0]
        have = {n: self.cfg.data.media_kinds.get(n) for n in self.placeholders}
        if not names:
            raise QuestionError(f"this model takes no {kind} input; its modalities (name: kind) are {have}")
        raise QuestionError(f"{kind} input is ambiguous: modalities {names} all take {kind}; name one of them")

    def answer(self, questions: Sequence[Question], max_new_tokens: int) -> list[dict]:
        """One row per question, in order: ``prediction``, ``generated_tokens``, ... or ``error`` and
        ``detail`` (a question whose media cannot be written fails alone, never its batch)."""
        with tempfile.TemporaryDirectory(prefix="moka-serve-") as tmp:
            root = Path(tmp)
            records, failed = [], {}
            for k, question in enumerate(questions):
                try:
                    records.append(self._record(question, k, root))
                except QuestionError as err:
                    failed[f"q{k}"] = {"id": f"q{k}", "error": "bad_question", "detail": str(err)}
            rows = {r["id"]: r for r in self._generate(records, root, max_new_tokens)} if records else {}
        return [failed.get(f"q{k}") or rows[f"q{k}"] for k in range(len(questions))]

    def _generate(self, records: list[dict], root: Path, max_new_tokens: int) -> list[dict]:
        file = write_jsonl(root / "questions.jsonl", records)
        data = self.cfg.data.model_copy(update={"root": str(root), "feature_cache": None})
        cfg = self.cfg.model_copy(update={"data": data})
        with torch.no_grad():
            return generate_predictions(
                cfg, self.tokenizer, self.model, file, batch_size=len(records), max_new_tokens=max_new_tokens
            )

    def _record(self, question: Question, index: int, root: Path) -> dict:
        unknown = sorted(set(question.media) - set(self.placeholders))
        if unknown:
            raise QuestionError(f"unknown modalities {unknown}; this model takes {sorted(self.placeholders)}")
        record: dict = {"id": f"q{index}"}
        for name, media in question.media.items():
            record[name] = media.write(root / f"q{index}_{name}").name
        used = "".join(text for _, text in question.turns)
        # media given without its placeholder in the text: the official lead-in before the first turn
        lead = "".join(lead_in(n, self.placeholders[n]) for n in question.media if self.placeholders[n] not in used)
        record["conversations"] = [
            {"from": "human" if role == "user" else "gpt", "value": (lead if k == 0 else "") + text}
            for k, (role, text) in enumerate(question.turns)
        ]
        if question.system is not None:
            record["conversations"].insert(0, {"from": "system", "value": question.system})
        return record
