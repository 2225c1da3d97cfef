"""Answer ad-hoc questions (text + media given in memory or as local files) with a loaded export.

Both the HTTP server and the lmms-eval plugin come here. A batch of questions becomes a unified
JSONL in a scratch directory (the media written or linked under a scratch ``data.root``) and goes
through the same dataset, renderer and batched generation as ``moka-train infer``, so an answer
here is the answer ``infer`` gives for the same record, token for token.
"""

from __future__ import annotations

import functools
import re
import tempfile
import wave
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from ..config import RunConfig
from ..data.media import MediaError, MediaLimits, MediaTooLargeError, check_media
from ..eval.generate import generate_predictions, load_for_inference
from ..eval.protocol import media_lead_in as lead_in  # the official media line, as ``infer --question``
from ..utils.jsonl import write_jsonl


class QuestionError(ValueError):
    """A question that cannot be answered as given (unknown modality, unreadable media, ...)."""


# error row reason -> HTTP status of the request it answers (other reasons: 400)
ERROR_STATUS = {"media_too_large": 413, "server_error": 500}


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

    def context(self) -> int | None:
        """Positions the language model has (prompt + answer), if its config says."""
        llm = getattr(self.model, "llm", self.model)
        return getattr(getattr(llm, "config", None), "max_position_embeddings", None)

    def answer(
        self, questions: Sequence[Question], max_new_tokens: int, cancelled: Callable[[], bool] | None = None
    ) -> list[dict]:
        """One row per question, in order: ``prediction``, ``generated_tokens``, ... or ``error`` and
        ``detail`` (a question whose media cannot be written or read fails alone, never its batch;
        ``ERROR_STATUS`` maps the reason to an HTTP status). Details never name the scratch paths.
        Generation stops at the next token once ``cancelled()`` is true (every asker has gone)."""
        with tempfile.TemporaryDirectory(prefix="moka-serve-") as tmp, self._stoppable(cancelled):
            root = Path(tmp)
            records, failed = [], {}
            for k, question in enumerate(questions):
                try:
                    records.append(self._record(question, k, root))
                except Exception as err:  # this question's input, never the batch's: it fails alone
                    failed[f"q{k}"] = {"id": f"q{k}", "error": _reason(err), "detail": str(err)}
            rows = {r["id"]: r for r in self._generate(records, root, max_new_tokens)} if records else {}
            answered = [failed.get(f"q{k}") or rows[f"q{k}"] for k in range(len(questions))]
            return [_without_scratch(row, root) for row in answered]

    @contextmanager
    def _stoppable(self, cancelled: Callable[[], bool] | None):
        """The model's ``generate`` with a stopping criterion that ends every row once
        ``cancelled()`` is true (the engine runs one batch at a time, so the override is its own)."""
        if cancelled is None:
            yield
            return
        criteria = StoppingCriteriaList([_Cancelled(cancelled)])
        self.model.generate = functools.partial(type(self.model).generate, self.model, stopping_criteria=criteria)
        try:
            yield
        finally:
            del self.model.generate

    def _generate(self, records: list[dict], root: Path, max_new_tokens: int) -> list[dict]:
        """A prompt that leaves fewer than ``max_new_tokens`` positions of the context is an
        ``overlength`` row; a bad sample is its own error row, whatever the recipe's policy."""
        file = write_jsonl(root / "questions.jsonl", records)
        max_length = self.cfg.data.max_length
        if self.context() is not None:
            max_length = max(1, min(max_length, self.context() - max_new_tokens))
        update = {"root": str(root), "feature_cache": None, "max_length": max_length}
        data = self.cfg.data.model_copy(update={**update, "bad_sample_policy": "skip", "max_bad_fraction": 1.0})
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
        limits = MediaLimits.from_data(self.cfg.data)
        for name, media in question.media.items():
            path = media.write(root / f"q{index}_{name}")
            check_media(self.cfg.data.media_kinds[name], path, limits, f"q{index}")  # a bomb: refused here
            record[name] = path.name
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


def _reason(err: Exception) -> str:
    if isinstance(err, MediaTooLargeError):
        return "media_too_large"
    if isinstance(err, (QuestionError, MediaError, ValueError, OSError)):
        return "bad_question"
    return "server_error"


def _without_scratch(row: dict, root: Path) -> dict:
    """The row with the scratch files named as the request's inputs ("the audio input")."""
    if "detail" not in row:
        return row
    detail = row["detail"]
    for base in {str(root), str(root.resolve())}:
        detail = re.sub(re.escape(base) + r"/q\d+_(\w+)\.\w+", r"the \1 input", detail)
        detail = detail.replace(base, "<request>")
    detail = re.sub(r"sample q\d+( \(<request>/questions\.jsonl:\d+\))?: ", "", detail)
    return {k: v for k, v in {**row, "detail": detail}.items() if k != "file"}


class _Cancelled(StoppingCriteria):
    """Stops every row of a generate call once ``cancelled()`` says its askers are gone."""

    def __init__(self, cancelled: Callable[[], bool]):
        self.cancelled = cancelled

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), bool(self.cancelled()), dtype=torch.bool, device=input_ids.device)
