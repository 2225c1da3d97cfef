"""The lmms-eval model class: a trained export answering lmms-eval's ``generate_until`` requests.

``--model_args config=C.yaml,checkpoint=EXPORT[,overrides=key=value key=value][,fold=false]``;
lmms-eval's ``--batch_size`` sets how many requests share one batched generate. The export is
loaded by :func:`moka_train.eval.generate.load_for_inference` (adapters folded for decoding).

What a task's ``doc_to_visual`` returns is read by type, as lmms-eval's own models do: a PIL
image is an image, a ``{"array", "sampling_rate"}`` dict is audio, a path string is a video,
audio or image by its extension; our task files (``moka_train.integrations.lmms.tasks``) return
``{"modality": NAME, "path": P}`` so that a video and its separate audio track never mix up.
The context is the question of the one prompt builder (:mod:`moka_train.data.question`): a context
without placeholders is asked in the official form (lead-ins, "Please answer this question: ", the
context), as ``infer --question`` and the server ask it; a context written with placeholders (our
task files' rows) is kept as written.
"""

from __future__ import annotations

import io
from pathlib import Path

from lmms_eval.api.model import lmms

from ...config import load_config
from ...data.question import Media, Question, QuestionError
from ...serve.engine import AnswerEngine

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".ogg")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")
DEFAULT_MAX_NEW_TOKENS = 32


def _flag(value) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes")


class MokaLMMS(lmms):
    is_simple = True

    def __init__(self, config: str, checkpoint: str, overrides: str = "", fold=True, batch_size=1, **unused):
        super().__init__()
        if unused:
            raise ValueError(f"moka model_args: unknown {sorted(unused)}; use config, checkpoint, overrides, fold")
        cfg = load_config(config, overrides.split() if overrides else [])
        self.engine = AnswerEngine(cfg, checkpoint, fold=_flag(fold))
        self.batch_size = int(batch_size)

    def media_of(self, visual, where: str) -> tuple[str, Media]:
        """(modality name, media) of one item of ``doc_to_visual``."""
        if isinstance(visual, dict) and "modality" in visual:
            return str(visual["modality"]), Media(path=Path(visual["path"]))
        if isinstance(visual, dict) and "array" in visual:
            return self.engine.modality_for_kind("audio"), Media(
                waveform=visual["array"], sample_rate=int(visual["sampling_rate"])
            )
        if isinstance(visual, str):
            suffix = Path(visual).suffix.lower()
            kinds = {
                **dict.fromkeys(VIDEO_SUFFIXES, "video"),
                **dict.fromkeys(AUDIO_SUFFIXES, "audio"),
                **dict.fromkeys(IMAGE_SUFFIXES, "image"),
            }
            if suffix not in kinds:
                raise QuestionError(f"{where}: cannot tell the media kind of {visual!r} from its extension")
            return self.engine.modality_for_kind(kinds[suffix]), Media(path=Path(visual))
        if hasattr(visual, "save"):  # a PIL image
            buffer = io.BytesIO()
            visual.convert("RGB").save(buffer, format="PNG")
            return self.engine.modality_for_kind("image"), Media(data=buffer.getvalue(), suffix=".png")
        raise QuestionError(f"{where}: unsupported visual of type {type(visual).__name__}")

    def question(self, context: str, doc_to_visual, doc_id, task: str, split: str) -> Question:
        where = f"{task}/{split} doc {doc_id}"
        visuals = doc_to_visual(self.task_dict[task][split][doc_id]) if doc_to_visual else []
        media: dict[str, Media] = {}
        for visual in visuals or []:
            name, item = self.media_of(visual, where)
            if name in media:
                raise QuestionError(f"{where}: two {name} inputs; a MokA sample carries one per modality")
            media[name] = item
        return Question([("user", context)], media)

    def generate_until(self, requests) -> list[str]:
        answers: list[str | None] = [None] * len(requests)
        by_kwargs: dict[tuple, list[int]] = {}
        for k, request in enumerate(requests):
            gen = request.args[1]
            key = (int(gen.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS)), tuple(until_list(gen)))
            by_kwargs.setdefault(key, []).append(k)
        for (budget, until), indices in by_kwargs.items():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                questions = [self.question(requests[k].args[0], *requests[k].args[2:6]) for k in chunk]
                for k, row in zip(chunk, self.engine.answer(questions, budget), strict=True):
                    if row.get("error"):
                        _, _, doc_id, task, split = requests[k].args[1:6]
                        raise QuestionError(f"{task}/{split} doc {doc_id}: {row['error']}: {row.get('detail', '')}")
                    answers[k] = cut_at(row["prediction"], until)
        return answers

    def loglikelihood(self, requests):
        raise NotImplementedError("the moka model answers generation tasks (output_type: generate_until) only")

    def generate_until_multi_round(self, requests):
        raise NotImplementedError("the moka model answers single-round generation tasks only")


def until_list(gen_kwargs: dict) -> list[str]:
    until = gen_kwargs.get("until") or []
    return [until] if isinstance(until, str) else list(until)


def cut_at(text: str, until: tuple[str, ...]) -> str:
    """The text up to the first of the task's stop strings (lmms-eval's ``until``)."""
    for stop in until:
        if stop:
            text = text.split(stop)[0]
    return text
