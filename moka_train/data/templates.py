"""Chat templates written as segments, so rendering can build ids, labels and modality ids in
lockstep instead of re-tokenising a joined string and guessing offsets.

A template turns a conversation into a list of :class:`Segment` ``(text, role)``:

* ``glue``      template markup ([INST], headers, newlines, BOS): never trained, plain text id
* ``system``    the system prompt's own words: never trained, never query
* ``user``      a user turn's content; ``render`` further splits it into placeholders, query
                text and non-query text
* ``assistant`` an answer's content: trained (labels = ids)
* ``eot``       the end-of-turn token(s) closing an answer: trained, so the model learns to stop

Glue strings may contain the tokenizer's special tokens (``<|eot_id|>``); content never is
parsed for special tokens (a user typing ``<|im_end|>`` gets plain characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

Role = Literal["glue", "system", "user", "assistant", "eot"]
TEMPLATES = ("llama2", "llama3", "qwen2", "plain")


@dataclass(frozen=True)
class Segment:
    text: str
    role: Role


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


def build_segments(template: str, turns: list[Turn], system: str | None, bos: str | None, eos: str | None,
                   generation: bool = False) -> list[Segment]:
    """Segments of ``turns`` under ``template``.

    ``generation``: the conversation ends with a user turn and the assistant header is
    appended so the model continues with the answer (evaluation / inference).
    """
    try:
        builder = _BUILDERS[template]
    except KeyError:
        raise ValueError(f"unknown chat template {template!r}; choose one of {TEMPLATES}") from None
    return [s for s in builder(turns, system, bos, eos, generation) if s.text]


def eot_text(template: str, eos: str | None) -> str:
    """The labelled end-of-turn text that follows every answer (tests compare against it)."""
    return {"llama2": f" {eos}", "llama3": "<|eot_id|>", "qwen2": "<|im_end|>", "plain": eos or ""}[template]


def _pairs(turns: list[Turn]) -> list[tuple[Turn, Turn | None]]:
    """(user, assistant) pairs; the last assistant is None in generation mode."""
    out, i = [], 0
    while i < len(turns):
        user = turns[i]
        answer = turns[i + 1] if i + 1 < len(turns) else None
        out.append((user, answer))
        i += 2
    return out


def _llama2(turns, system, bos, eos, generation):
    # <s>[INST] <<SYS>>\n{sys}\n<</SYS>>\n\n{user} [/INST] {answer} </s><s>[INST] {user} [/INST] ...
    segs: list[Segment] = []
    for k, (user, answer) in enumerate(_pairs(turns)):
        segs.append(Segment(f"{bos or ''}[INST] ", "glue"))
        if k == 0 and system:
            segs += [Segment("<<SYS>>\n", "glue"), Segment(system, "system"), Segment("\n<</SYS>>\n\n", "glue")]
        segs += [Segment(user.text, "user"), Segment(" [/INST] ", "glue")]
        if answer is not None:
            segs += [Segment(answer.text, "assistant"), Segment(eot_text("llama2", eos), "eot")]
    return segs


def _llama3(turns, system, bos, eos, generation):
    def header(role: str) -> Segment:
        return Segment(f"<|start_header_id|>{role}<|end_header_id|>\n\n", "glue")

    segs = [Segment(bos or "", "glue")]
    if system:
        segs += [header("system"), Segment(system, "system"), Segment("<|eot_id|>", "glue")]
    for user, answer in _pairs(turns):
        segs += [header("user"), Segment(user.text, "user"), Segment("<|eot_id|>", "glue"), header("assistant")]
        if answer is not None:
            segs += [Segment(answer.text, "assistant"), Segment("<|eot_id|>", "eot")]
    return segs


def _qwen2(turns, system, bos, eos, generation):
    segs: list[Segment] = []
    if system:
        segs += [Segment("<|im_start|>system\n", "glue"), Segment(system, "system"), Segment("<|im_end|>\n", "glue")]
    for user, answer in _pairs(turns):
        segs += [Segment("<|im_start|>user\n", "glue"), Segment(user.text, "user"),
                 Segment("<|im_end|>\n<|im_start|>assistant\n", "glue")]
        if answer is not None:
            # the newline after <|im_end|> is glue: generation stops at <|im_end|>
            segs += [Segment(answer.text, "assistant"), Segment("<|im_end|>", "eot"), Segment("\n", "glue")]
    return segs


def _plain(turns, system, bos, eos, generation):
    # stage-1 captioning (LLaVA "plain"): media placeholders, then the caption, then EOS. The
    # user's instruction words and the system prompt are dropped on purpose: the projector learns
    # to caption, with no chat glue. ``render`` keeps only the placeholders of the user text.
    segs = [Segment(bos or "", "glue")]
    for user, answer in _pairs(turns):
        segs += [Segment(user.text, "user"), Segment("\n", "glue")]
        if answer is not None:
            segs += [Segment(answer.text, "assistant"), Segment(eot_text("plain", eos), "eot")]
    return segs


_BUILDERS: dict[str, Callable[..., list[Segment]]] = {
    "llama2": _llama2, "llama3": _llama3, "qwen2": _qwen2, "plain": _plain,
}
