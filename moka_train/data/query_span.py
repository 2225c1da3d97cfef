"""Where the question is in a user turn: character spans of query text (the keys of MokA's
cross-attention), decided on the text alone, before any tokenizer sees it
(``data.query_span: question``, the official audio-visual span).

1. *Explicit markers* (``data.query_markers``, default ``<query>`` ... ``</query>``): the text
   between them is the query; the markers are removed from the content.
2. *Otherwise, by lines*: every line is query text except media placeholders, media lead-ins
   (``data.media_lead_in``, default the official ``This is a video:`` style) and blank lines; the
   whitespace around a question is not part of it. A line ``<image> What is it?`` keeps
   ``What is it?``. For the official prompt
   ``This is a video:\\n<video>\\nThis is an audio:\\n<audio>\\nPlease answer this question: Q`` the
   query is ``Please answer this question: Q``, the span the official code puts between
   ``<question_start>`` and ``<question_end>``.

``data.query_span: after_media`` is the official visual-text rule instead (VT ``train/train.py``
221-231, ``question_mask``): every token after the sample's last media token that is neither trained
nor media, decided on the token ids (:func:`after_last_media`): the lead-in
``Please answer this question:``, the question and the template's ``[/INST]`` included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..config.sections.data import DEFAULT_LEAD_IN

Span = tuple[int, int]


@dataclass(frozen=True)
class QueryRules:
    markers: tuple[str, str] = ("<query>", "</query>")
    lead_in: str = DEFAULT_LEAD_IN  # a whole line (or the text beside a placeholder) matching this is not query
    mode: str = "question"  # data.query_span: question (the spans below) | after_media (after_last_media)


def after_last_media(is_media: np.ndarray, trained: np.ndarray, dropped: np.ndarray) -> np.ndarray:
    """Per token: after the last media token, not trained, not media, not a dropped marker (the
    official visual-text ``question_mask``); all False in a sample without media."""
    where = np.flatnonzero(is_media)
    if not len(where):
        return np.zeros(len(is_media), dtype=bool)
    return (np.arange(len(is_media)) > where[-1]) & ~trained & ~is_media & ~dropped


def query_spans(content: str, rules: QueryRules, placeholder_re: re.Pattern | None) -> tuple[str, list[Span]]:
    """``(content without query markers, spans of query text in it)``."""
    open_, close = rules.markers
    if open_ and open_ in content:
        return _between_markers(content, open_, close)
    lead_in = re.compile(rf"\s*(?:{rules.lead_in})\s*")
    spans: list[Span] = []
    for line in re.finditer(r"[^\n]+", content):
        for start, end in _outside_placeholders(line.start(), line.end(), content, placeholder_re):
            part = content[start:end]
            if part.strip() and not lead_in.fullmatch(part):
                spans.append(_trimmed(content, start, end))
    return content, spans


def _between_markers(content: str, open_: str, close: str) -> tuple[str, list[Span]]:
    out, spans, pos = [], [], 0
    pattern = re.compile(f"{re.escape(open_)}(.*?){re.escape(close)}", re.S)
    length = 0
    for m in pattern.finditer(content):
        out.append(content[pos : m.start()])
        length += m.start() - pos
        inner = m.group(1)
        start, end = _trimmed(inner, 0, len(inner))
        if end > start:
            spans.append((length + start, length + end))
        out.append(inner)
        length += len(inner)
        pos = m.end()
    out.append(content[pos:])
    return "".join(out), spans


def _outside_placeholders(start: int, end: int, text: str, placeholder_re: re.Pattern | None) -> list[Span]:
    if placeholder_re is None:
        return [(start, end)]
    parts, pos = [], start
    for m in placeholder_re.finditer(text, start, end):
        parts.append((pos, m.start()))
        pos = m.end()
    parts.append((pos, end))
    return [(s, e) for s, e in parts if e > s]


def _trimmed(text: str, start: int, end: int) -> Span:
    part = text[start:end]
    return start + len(part) - len(part.lstrip()), end - (len(part) - len(part.rstrip()))
