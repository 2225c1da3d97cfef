"""Answer ad-hoc questions (text + media given in memory or as local files) with a loaded export.

Both the HTTP server and the lmms-eval plugin come here, as ``moka-train infer --question`` goes
to :func:`moka_train.eval.generate.answer_question`: a question becomes a sample in memory through
the one prompt builder (:mod:`moka_train.data.question`) and goes through the same dataset,
renderer and batched generation as ``infer`` and ``evaluate run``, so an answer here is theirs for
the same (media, question), token for token. Nothing is written to disk: media given as bytes are
decoded from memory, local files are read where they are.
"""

from __future__ import annotations

import functools
import itertools
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from ..config import RunConfig
from ..data.media import MediaError, MediaLimits, MediaTooLargeError, check_media
from ..data.question import Media, Question, QuestionError, question_sample
from ..eval.decoding import GREEDY, seeded_draws
from ..eval.generate import answer_batches, eval_dataset, load_for_inference, rejected_rows

__all__ = ["AnswerEngine", "Media", "Question", "QuestionError", "Sampling", "ERROR_STATUS"]

# error row reason -> HTTP status of the request it answers (other reasons: 400)
ERROR_STATUS = {"media_too_large": 413, "server_error": 500}


@dataclass(frozen=True)
class Sampling:
    """Sampled decoding (a request's ``temperature`` / ``top_p``), drawn from ``seed``; with no
    seed the engine gives each batch the next seed of its own sequence (``AnswerEngine.seed``),
    so a server's answers are reproducible from its start and still differ between requests."""

    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None

    def generate_kwargs(self) -> dict:
        # top_k 0: no top-k cut (OpenAI's API has none; a generation config's top_k=50 would add one)
        return {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p, "top_k": 0, "num_beams": 1}

    @contextmanager
    def seeded(self, first_id: str, device: torch.device) -> Iterator[None]:
        """The draws come from ``seed`` alone (not the batch's ids); the caller's random state is restored."""
        with seeded_draws(self.seed or 0, device):
            yield


class AnswerEngine:
    """A recipe's export loaded once (folded for decoding); answers batches of questions."""

    def __init__(self, cfg: RunConfig, checkpoint: str | Path, fold: bool = True, seed: int = 0):
        self.cfg, self.seed = cfg, seed
        self.tokenizer, self.model = load_for_inference(cfg, checkpoint, fold=fold)
        self.placeholders = {m.name: m.placeholder for m in cfg.model.modalities}
        self.specs = [b.spec for b in self.model.branches]
        self._draws = itertools.count()  # seeds of the unseeded sampled batches, in order

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
        self,
        questions: Sequence[Question],
        max_new_tokens: int,
        cancelled: Callable[[], bool] | None = None,
        decoding=GREEDY,
    ) -> list[dict]:
        """One row per question, in order: ``prediction``, ``generated_tokens``, ``prompt_tokens``,
        ... or ``error`` and ``detail`` (a question whose media cannot be read fails alone, never
        its batch; ``ERROR_STATUS`` maps the reason to an HTTP status). Details name the request's
        inputs ("the audio input"), never a server path. ``decoding``: greedy, or a
        :class:`Sampling`. Generation stops at the next token once ``cancelled()`` is true."""
        if isinstance(decoding, Sampling) and decoding.seed is None:
            decoding = replace(decoding, seed=zlib.crc32(f"{self.seed}:{next(self._draws)}".encode()))
        samples, failed = [], {}
        for k, question in enumerate(questions):
            try:
                samples.append(self._sample(question, k))
            except Exception as err:  # this question's input, never the batch's: it fails alone
                failed[f"q{k}"] = {"id": f"q{k}", "error": _reason(err), "detail": str(err)}
        with self._stoppable(cancelled):
            rows = {r["id"]: r for r in self._generate(samples, max_new_tokens, decoding)} if samples else {}
        answered = [failed.get(f"q{k}") or rows[f"q{k}"] for k in range(len(questions))]
        return [_public(row, question) for row, question in zip(answered, questions, strict=True)]

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

    def _generate(self, samples: list, max_new_tokens: int, decoding) -> list[dict]:
        """A prompt that leaves fewer than ``max_new_tokens`` positions of the context is an
        ``overlength`` row; a bad sample is its own error row, whatever the recipe's policy."""
        max_length = self.cfg.data.max_length
        if self.context() is not None:
            max_length = max(1, min(max_length, self.context() - max_new_tokens))
        update = {"feature_cache": None, "max_length": max_length, "bad_sample_policy": "skip", "max_bad_fraction": 1.0}
        cfg = self.cfg.model_copy(update={"data": self.cfg.data.model_copy(update=update)})
        dataset = eval_dataset(cfg, self.tokenizer, self.model, samples)
        prompt_tokens = dict(zip((s.id for s in dataset.samples), dataset.lengths, strict=True))
        with torch.no_grad():
            batches = answer_batches(self.model, self.tokenizer, dataset, len(samples), max_new_tokens, decoding)
            rows = [row for rows in batches for row in rows] + rejected_rows(dataset)
        return [{**row, "prompt_tokens": prompt_tokens[row["id"]]} if "error" not in row else row for row in rows]

    def _sample(self, question: Question, index: int):
        """The question's sample in memory; each medium's header checked first (a bomb is refused
        here, as ``media_too_large``)."""
        sample = question_sample(question, f"q{index}", self.specs)
        limits = MediaLimits.from_data(self.cfg.data)
        for name, source in sample.sources.items():
            check_media(self.cfg.data.media_kinds[name], source, limits, sample.id)
        return sample


def _reason(err: Exception) -> str:
    if isinstance(err, MediaTooLargeError):
        return "media_too_large"
    if isinstance(err, (QuestionError, MediaError, ValueError, OSError)):
        return "bad_question"
    return "server_error"


def _public(row: dict, question: Question) -> dict:
    """The row as the asker may see it: details name the request's inputs, not server paths or
    the engine's sample ids; the in-memory media labels of the row dropped."""
    row = {k: v for k, v in row.items() if k not in ("file", *question.media)}
    if "detail" not in row:
        return row
    detail = row["detail"]
    for name, media in question.media.items():
        if media.path is not None:
            for shown in {str(media.path), str(Path(media.path).resolve())}:
                detail = detail.replace(shown, f"the {name} input")
    detail = re.sub(r"sample q\d+( \(question q\d+\))?: ", "", detail)
    return {**row, "detail": detail}


class _Cancelled(StoppingCriteria):
    """Stops every row of a generate call once ``cancelled()`` says its askers are gone."""

    def __init__(self, cancelled: Callable[[], bool]):
        self.cancelled = cancelled

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), bool(self.cancelled()), dtype=torch.bool, device=input_ids.device)
