"""Chat templates: a conversation rendered to the exact text a backbone was trained on, with the
character span of every message's content in that text.

The text comes from a Jinja chat template through the tokenizer's own ``apply_chat_template``:
the model's own template (``data.template: chat``, the default: a new backbone is a config line),
or one of ours for tokenizers that ship none (``llama2``, ``llama3``, ``qwen2``: the same text as
the official templates of those families, which the tests check against the real tokenizers) and
the stage-1 ``plain`` captioning format.

Spans are found without guessing: the conversation is rendered a second time with every content
replaced by a unique sentinel, which splits the text into the template's own glue; the real text
must then be glue + content + glue + ... exactly (content as given, or stripped where the template
strips it). A template that rewrites content in any other way is refused by name instead of
yielding shifted labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TEMPLATES = ("chat", "llama2", "llama3", "qwen2", "plain")

# end-of-turn tokens of the chat families: the labelled end of an answer is the first of these (or
# eos) after the answer's content; generation stops at any of them
END_OF_TURN_TOKENS = ("<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>", "</s>")

_LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
    "{% set turns = messages[1:] %}{% else %}{% set system = none %}{% set turns = messages %}{% endif %}"
    "{% for m in turns %}"
    "{% if loop.index0 == 0 and system is not none %}"
    "{% set content = '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' + m['content'] %}"
    "{% else %}{% set content = m['content'] %}{% endif %}"
    "{% if m['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% else %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)
_LLAMA3 = (
    "{% for m in messages %}{% if loop.first %}{{ bos_token }}{% endif %}"
    "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
_QWEN2 = (
    "{% for m in messages %}"
    "{% if loop.first and m['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# stage-1 captioning (LLaVA "plain"): the media, a newline, the caption, EOS; no system prompt and
# no chat glue. The renderer reduces each user turn to its placeholders before rendering.
_PLAIN = (
    "{% if bos_token %}{{ bos_token }}{% endif %}{% for m in messages %}"
    "{% if m['role'] == 'user' %}{{ m['content'] + '\\n' }}"
    "{% elif m['role'] == 'assistant' %}{{ m['content'] + (eos_token or '') }}{% endif %}"
    "{% endfor %}"
)
BUILTIN = {"llama2": _LLAMA2, "llama3": _LLAMA3, "qwen2": _QWEN2, "plain": _PLAIN}

_SENTINEL = "\ue000{}\ue001"  # private-use characters: no template strips or matches them
_SENTINEL_RE = re.compile("\ue000(\\d+)\ue001")


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class ContentSpan:
    start: int  # where the content begins in the rendered text
    end: int
    skipped: int  # characters the template removed from the front of the content (strip)


@dataclass(frozen=True)
class ChatText:
    text: str
    spans: list[ContentSpan | None]  # per message; None where the template leaves it out


class TemplateError(ValueError):
    """The chat template cannot be used (missing, or it rewrites content beyond stripping)."""


def chat_template_for(tokenizer, template: str) -> str:
    """The Jinja template named by ``data.template`` ("chat": the tokenizer's own)."""
    if template not in TEMPLATES:
        raise TemplateError(f"data.template: unknown {template!r}; choose one of {', '.join(TEMPLATES)}")
    if template != "chat":
        return BUILTIN[template]
    own = getattr(tokenizer, "chat_template", None)
    if not own or not isinstance(own, str):
        raise TemplateError(
            f"data.template: chat, but the tokenizer at {tokenizer.name_or_path!r} has no "
            f"chat_template; set data.template to one of {', '.join(BUILTIN)}"
        )
    return own


def render_chat(
    tokenizer, template: str, messages: list[dict], generation: bool, extra: dict | None = None
) -> ChatText:
    """``messages`` rendered by ``template`` (a Jinja string), with each content's span."""

    def apply(msgs: list[dict]) -> str:
        return tokenizer.apply_chat_template(
            msgs, chat_template=template, tokenize=False, add_generation_prompt=generation, **(extra or {})
        )

    text = apply(messages)
    skeleton = apply([{**m, "content": _SENTINEL.format(k)} for k, m in enumerate(messages)])
    parts = _SENTINEL_RE.split(skeleton)  # glue, index, glue, index, ..., glue
    spans: list[ContentSpan | None] = [None] * len(messages)
    pos = 0
    for i in range(1, len(parts), 2):
        glue, k, after = parts[i - 1], int(parts[i]), parts[i + 1]
        if not text.startswith(glue, pos) or spans[k] is not None:
            raise TemplateError(_rewrites(k))
        pos += len(glue)
        last = i + 2 >= len(parts)
        span = _place(text, pos, messages[k]["content"], after, last)
        if span is None:
            raise TemplateError(_rewrites(k))
        spans[k], pos = span, span.end
    if text[pos:] != parts[-1]:
        raise TemplateError(_rewrites(len(messages) - 1))
    return ChatText(text, spans)


def _place(text: str, pos: int, content: str, after: str, last: bool) -> ContentSpan | None:
    """The content at ``pos`` as the template placed it (whole, or stripped), followed by ``after``."""
    lead = len(content) - len(content.lstrip())
    for placed, skipped in ((content, 0), (content.strip(), lead), (content.rstrip(), 0), (content.lstrip(), lead)):
        end = pos + len(placed)
        if text.startswith(placed, pos) and (text[end:] == after if last else text.startswith(after, end)):
            return ContentSpan(pos, end, skipped)
    return None


def _rewrites(k: int) -> str:
    return (
        f"the chat template changes the content of message {k} beyond stripping it (or repeats it), "
        "so labels and the query span cannot be placed exactly; use another data.template"
    )
