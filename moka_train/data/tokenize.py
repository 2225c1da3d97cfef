"""Render a sample into ``input_ids``, ``labels`` and ``modality_ids``, exact against the real tokenizer.

The conversation is rendered once through its chat template (``templates.render_chat``: the text
and the character span of every message's content) and that text is tokenized once, with
offsets, exactly as ``tokenizer(apply_chat_template(messages, tokenize=False), add_special_tokens=False)``
does. Labels, query span and media positions are then read off character spans, so no merge is
ever lost at a segment boundary and SentencePiece never adds a stray "▁" per segment.

Which token a character span claims: a token belongs to a span when one of its non-whitespace
characters lies inside it (``▁Please`` is query although its space is not; ``?Ċ`` is query at the
end of a question line); a token of whitespace only belongs when all of it lies inside. Trained
spans run from an answer's first character to the end of the first end-of-turn token after it
(``" </s>"`` for LLaMA-2, ``<|eot_id|>``, ``<|im_end|>``); trained tokens are never query.

Content is never parsed for special tokens: a user who types ``<|im_end|>`` gets plain text (that
sample is then tokenized in pieces, the one case where the ids cannot equal the template's, which
would have turned the user's text into a control token). Each media placeholder is an added token,
expanded to the projector's token count after tokenization.

``prompt_style: official`` is the official MokA marker form: ``<video_start><video><video_end>``
around every placeholder and ``<question_start>…<question_end>`` around the query. As in the
official code (``unified_arch.prepare_multimodal_inputs``) the media start/end markers stay in the
sequence as text tokens, while the question markers only delimit the query and are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import torch

from ..modality import IGNORE_INDEX, QUERY, TEXT, ModalitySpec
from .official_prompt import media_lead_in
from .query_span import QueryRules, Span, after_last_media, query_spans
from .records import Sample
from .templates import END_OF_TURN_TOKENS, ChatText, Turn, chat_template_for, render_chat

PROMPT_STYLES = ("placeholders", "official")
QUESTION_MARKERS = ("<question_start>", "<question_end>")

__all__ = [
    "IGNORE_INDEX",
    "PROMPT_STYLES",
    "QueryRules",
    "RenderError",
    "Rendered",
    "Renderer",
    "add_placeholder_tokens",
    "media_markers",
    "render",
]


class RenderError(ValueError):
    """A sample that cannot be rendered; ``reason`` is the bad-sample category."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class Rendered:
    input_ids: torch.Tensor  # [T] long
    labels: torch.Tensor  # [T] long, IGNORE_INDEX where not trained
    modality_ids: torch.Tensor  # [T] long, TEXT / QUERY / spec.id
    media: list[str] = field(default_factory=list)  # modality names, in placeholder order

    def __len__(self) -> int:
        return int(self.input_ids.numel())


def media_markers(placeholder: str) -> tuple[str, str]:
    """The official start/end markers of a placeholder: ``<video>`` -> ``<video_start>``, ``<video_end>``."""
    stem = placeholder[1:-1] if placeholder.startswith("<") and placeholder.endswith(">") else placeholder
    return f"<{stem}_start>", f"<{stem}_end>"


def add_placeholder_tokens(tokenizer, modalities: list[ModalitySpec], prompt_style: str = "placeholders") -> int:
    """Add each modality's placeholder (and in the official style its markers, then the question
    markers, in the official order) as special tokens; returns how many were new.

    The model side must resize its embeddings to ``len(tokenizer)`` afterwards.
    """
    tokens = [m.placeholder for m in modalities]
    if prompt_style == "official":
        tokens = [t for m in modalities for t in (m.placeholder, *media_markers(m.placeholder))]
        tokens += list(QUESTION_MARKERS)
    return tokenizer.add_tokens(tokens, special_tokens=True)


def render(
    sample: Sample,
    template: str,
    tokenizer,
    modalities: list[ModalitySpec],
    max_length: int | None,
    system_prompt: str | None = None,
    generation: bool = False,
    rules: QueryRules = QueryRules(),
    prompt_style: str = "placeholders",
) -> Rendered:
    """One sample → lockstep tensors; raises :class:`RenderError` for bad samples."""
    renderer = Renderer(tokenizer, template, modalities, max_length, system_prompt, rules, prompt_style)
    return renderer.render(sample, generation)


class Renderer:
    """Holds the tokenizer-dependent state (template, placeholder and marker ids) for many renders."""

    def __init__(
        self,
        tokenizer,
        template: str,
        modalities: list[ModalitySpec],
        max_length: int | None,
        system_prompt: str | None = None,
        rules: QueryRules = QueryRules(),
        prompt_style: str = "placeholders",
        template_kwargs: dict | None = None,
    ):
        if prompt_style not in PROMPT_STYLES:
            raise ValueError(f"data.prompt_style: unknown {prompt_style!r}; choose one of {', '.join(PROMPT_STYLES)}")
        self.tokenizer, self.template, self.max_length = tokenizer, template, max_length
        self.system_prompt, self.rules, self.official = system_prompt, rules, prompt_style == "official"
        self.jinja = chat_template_for(tokenizer, template)
        self.template_kwargs = template_kwargs or {}
        self.specs = {m.name: m for m in modalities}
        self.by_placeholder = {m.placeholder: m for m in modalities}
        self.num_tokens = {_token_id(tokenizer, m.placeholder): m for m in modalities}
        self._ph_re = _alternatives(list(self.by_placeholder))
        markers = [t for m in modalities for t in media_markers(m.placeholder)] if self.official else []
        self.wraps = {m.placeholder: m.wrap for m in modalities if m.wrap}
        markers += [t for m in modalities if m.wrap for t in m.wrap]
        self._media_re = _alternatives(list(self.by_placeholder) + markers)  # not query text
        self.dropped = {_token_id(tokenizer, t) for t in QUESTION_MARKERS} if self.official else set()
        # tokens of our own that user content keeps as tokens even when it is tokenized as plain text
        self._keep_re = _alternatives(
            list(self.by_placeholder) + markers + (list(QUESTION_MARKERS) if self.official else [])
        )
        ours = set(self.num_tokens) | self.dropped | {_token_id(tokenizer, t) for t in markers}
        self.special_ids = {i for i, t in tokenizer.added_tokens_decoder.items() if t.special} - ours
        self.stops = [
            t
            for t in dict.fromkeys([tokenizer.eos_token, *END_OF_TURN_TOKENS])
            if t and vocab_id(tokenizer, t) is not None
        ]

    def render(self, sample: Sample, generation: bool = False) -> Rendered:
        turns = self._with_placeholders(sample)
        system = sample.system if sample.system is not None else self.system_prompt
        messages, queries = self._messages(turns, system)
        try:
            chat = render_chat(self.tokenizer, self.jinja, messages, generation, self.template_kwargs)
        except ValueError as err:  # TemplateError, and the template's own raise_exception
            raise RenderError("template", f"sample {sample.id} ({sample.source}): {err}") from None
        ids, offsets = self._tokenize(chat, messages)
        trained, query = self._claims(chat, messages, queries, offsets)
        return self._expand(sample, ids, trained, query)

    # --- the conversation as messages ----------------------------------------------------------

    def _with_placeholders(self, sample: Sample) -> list[Turn]:
        """Check placeholder/media agreement; announce a missing placeholder at the start of the first
        user turn as the official prompt does (``This is an image:\n<image>\n``): how split multi-turn
        samples keep their media, each turn as the official visual-text code splits them."""
        unknown = sorted(set(sample.media) - set(self.specs))
        if unknown:
            raise RenderError(
                "unknown_modality",
                f"sample {sample.id} ({sample.source}): media {unknown} "
                f"but the model has modalities {sorted(self.specs)}",
            )
        turns = list(sample.turns)
        for name, spec in self.specs.items():
            count = sum(t.text.count(spec.placeholder) for t in turns if t.role == "user")
            if name not in sample.media and count:
                raise RenderError(
                    "placeholder_without_media",
                    f"sample {sample.id} ({sample.source}): {spec.placeholder} in the text but no {name!r} path",
                )
            if name in sample.media and count > 1:
                raise RenderError(
                    "repeated_placeholder",
                    f"sample {sample.id} ({sample.source}): {spec.placeholder} appears {count} times; "
                    f"one {name} per sample",
                )
            if name in sample.media and count == 0 and turns:
                turns[0] = Turn(turns[0].role, media_lead_in(name, spec.placeholder) + turns[0].text)
        return turns

    def _messages(self, turns: list[Turn], system: str | None) -> tuple[list[dict], list[list[Span]]]:
        """Chat messages (content as rendered) and, per message, the query spans in its content.

        Only the question of the turn that holds the media (the first user turn with a placeholder,
        else the first user turn) is query text. Media tokens attend to the query, so a later
        turn's question as key would leak the future into every earlier position of a joint
        multi-turn sample, and at inference that question does not exist yet; later questions
        are plain text, in training and in generation alike.
        """
        plain = self.template == "plain"
        messages = [] if plain or not system else [{"role": "system", "content": system}]
        queries: list[list[Span]] = [[] for _ in messages]
        asks = self._question_turn(turns)
        for k, turn in enumerate(turns):
            content, spans = turn.text, []
            if turn.role == "user" and plain:  # captioning: keep the media, drop the instruction words
                content = "".join(m.group(0) for m in self._ph_re.finditer(content)) if self._ph_re else ""
            elif turn.role == "user" and self.official:
                content, spans = self._official(content, asks == k)
            elif turn.role == "user":
                content, spans = query_spans(content, self.rules, self._ph_re)
                spans = spans if asks == k else []
            if turn.role == "user" and self.wraps:
                content, spans = _wrap_placeholders(content, spans, self.wraps)
            messages.append({"role": turn.role, "content": content})
            queries.append(spans)
        return messages, queries

    def _question_turn(self, turns: list[Turn]) -> int | None:
        users = [k for k, t in enumerate(turns) if t.role == "user"]
        with_media = [k for k in users if self._ph_re and self._ph_re.search(turns[k].text)]
        return (with_media or users or [None])[0]

    def _official(self, content: str, asks: bool) -> tuple[str, list[Span]]:
        """The official marker form: every placeholder wrapped, the query between question markers
        (markers are added only to the turn that asks, see :meth:`_messages`)."""
        content, _ = _wrap_placeholders(content, [], {p: media_markers(p) for p in self.by_placeholder})
        open_, close = QUESTION_MARKERS
        if open_ not in content and not asks:
            return query_spans(content, QueryRules(self.rules.markers, ".*"), self._media_re)[0], []
        if open_ not in content:
            content, spans = query_spans(content, self.rules, self._media_re)
            for s, e in reversed(spans):
                content = content[:s] + open_ + content[s:e] + close + content[e:]
        found = re.finditer(f"{re.escape(open_)}(.*?){re.escape(close)}", content, re.S)
        return content, [(m.start(1), m.end(1)) for m in found]

    # --- one tokenization, then character spans -----------------------------------------------

    def _tokenize(self, chat: ChatText, messages: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        """Ids and [N, 2] character offsets of the rendered text."""
        enc = self.tokenizer(chat.text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = np.asarray(enc["input_ids"], dtype=np.int64), np.asarray(enc["offset_mapping"], dtype=np.int64)
        plain = [span for span, m in zip(chat.spans, messages) if span and self._parsed_inside(ids, offsets, span, m)]
        if not plain:
            return ids, offsets.reshape(-1, 2)
        return self._tokenize_in_pieces(chat.text, plain, messages, chat)

    def _parsed_inside(self, ids: np.ndarray, offsets: np.ndarray, span, message: dict) -> bool:
        """Did the tokenizer turn text of this content into a control token (or a non-user placeholder)?"""
        inside = (offsets[:, 0] >= span.start) & (offsets[:, 1] <= span.end)
        control = set(self.special_ids) | (set() if message["role"] == "user" else set(self.num_tokens) | self.dropped)
        return bool(np.isin(ids[inside], list(control)).any()) if control else False

    def _tokenize_in_pieces(self, text: str, plain: list, messages: list[dict], chat: ChatText):
        roles = {(s.start, s.end): m["role"] for s, m in zip(chat.spans, messages) if s}
        cuts, pieces, pos = sorted(plain, key=lambda s: s.start), [], 0
        for span in cuts:
            pieces += [(pos, span.start, False)]
            keep = self._keep_re if roles[(span.start, span.end)] == "user" else None
            pieces += [(s, e, True) for s, e in _split_keeping(text, span.start, span.end, keep)]
            pos = span.end
        pieces.append((pos, len(text), False))
        all_ids, all_offsets = [], []
        for start, end, as_text in pieces:
            if end <= start:
                continue
            enc = self.tokenizer(
                text[start:end],
                add_special_tokens=False,
                return_offsets_mapping=True,
                split_special_tokens=as_text and not _matches(self._keep_re, text[start:end]),
            )
            all_ids += enc["input_ids"]
            all_offsets += [(a + start, b + start) for a, b in enc["offset_mapping"]]
        return np.asarray(all_ids, dtype=np.int64), np.asarray(all_offsets, dtype=np.int64).reshape(-1, 2)

    def _claims(self, chat: ChatText, messages: list[dict], queries: list[list[Span]], offsets: np.ndarray):
        """Per token: trained (answer + end of turn) and query text, from character spans."""
        n = len(chat.text)
        label, query = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        starts = sorted(s.start for s in chat.spans if s) + [n]
        for span, message, spans in zip(chat.spans, messages, queries):
            if span is None:
                continue
            if message["role"] == "assistant":
                label[span.start : self._end_of_turn(chat.text, span, starts)] = True
            for s, e in spans:
                a, b = (max(span.start, min(span.end, span.start + x - span.skipped)) for x in (s, e))
                query[a:b] = True
        blank = np.fromiter((c.isspace() for c in chat.text), dtype=bool, count=n)
        trained = _claimed(label, blank, offsets)
        return trained, _claimed(query, blank, offsets) & ~trained

    def _end_of_turn(self, text: str, answer, starts: list[int]) -> int:
        """End of the first end-of-turn token after an answer, within the glue before the next message."""
        limit = next(s for s in starts if s > answer.start or s == len(text))
        found = [i + len(t) for t in self.stops if (i := text.find(t, answer.end, limit)) >= 0]
        return min(found) if found else answer.end

    def _expand(self, sample: Sample, ids: np.ndarray, trained: np.ndarray, query: np.ndarray) -> Rendered:
        """Media placeholders → their token count, question markers dropped; tensors in lockstep."""
        counts, is_media = np.ones(len(ids), dtype=np.int64), np.isin(ids, list(self.num_tokens))
        if self.rules.mode == "after_media":  # the official visual-text keys, on token ids
            query = after_last_media(is_media, trained, np.isin(ids, list(self.dropped)))
        mids = np.where(query, QUERY, TEXT).astype(np.int64)
        media = []
        for k in np.flatnonzero(is_media):
            spec = self.num_tokens[int(ids[k])]
            counts[k], mids[k] = spec.num_tokens, spec.id
            media.append(spec.name)
        if sorted(media) != sorted(sample.media):
            raise RenderError(
                "placeholder_mismatch",
                f"sample {sample.id} ({sample.source}): media {sorted(sample.media)} "
                f"but the rendered prompt holds placeholders for {sorted(media)}",
            )
        counts[np.isin(ids, list(self.dropped))] = 0
        total = int(counts.sum())
        if self.max_length is not None and total > self.max_length:
            raise RenderError(
                "overlength",
                f"sample {sample.id} ({sample.source}): {total} tokens > "
                f"data.max_length={self.max_length}; not truncated (it would cut "
                "an answer or a media block)",
            )
        labels = np.where(trained & (mids == TEXT), ids, IGNORE_INDEX)
        out = [torch.from_numpy(np.repeat(a, counts)) for a in (ids, labels, mids)]
        return Rendered(*out, media)


def _wrap_placeholders(content: str, spans: list[Span], wraps: dict[str, tuple[str, str]]) -> tuple[str, list[Span]]:
    """Each placeholder not yet wrapped gets its model's markers around it (e.g. Qwen2.5-VL's
    ``<|vision_start|>`` ... ``<|vision_end|>``); query spans shift with the inserted text."""
    for placeholder, (before, after) in wraps.items():
        at = content.find(placeholder)
        end = at + len(placeholder)
        wrapped = at >= len(before) and content.startswith(before, at - len(before)) and content.startswith(after, end)
        if at < 0 or wrapped:
            continue  # absent, or wrapped already (one placeholder per sample: checked before)
        content = content[:at] + before + placeholder + after + content[end:]
        shift = len(before) + len(after)
        spans = [(s + shift, e + shift) if s >= end else (s, e) for s, e in spans]
    return content, spans


def _claimed(chars: np.ndarray, blank: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Tokens claimed by a character mask: by a non-whitespace character, or wholly if all blank."""

    def prefix(mask: np.ndarray) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(mask)])

    s, e = offsets[:, 0], offsets[:, 1]
    core = prefix(~blank)
    in_core, in_all = prefix(chars & ~blank), prefix(chars)
    has_core = core[e] - core[s] > 0
    return np.where(has_core, in_core[e] - in_core[s] > 0, (in_all[e] - in_all[s] == e - s) & (e > s))


def _split_keeping(text: str, start: int, end: int, keep: re.Pattern | None) -> list[Span]:
    """``[start, end)`` cut around the matches of ``keep`` (placeholders stay tokens of their own)."""
    if keep is None:
        return [(start, end)]
    cuts = [x for m in keep.finditer(text, start, end) for x in (m.start(), m.end())]
    bounds = [start, *cuts, end]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _matches(pattern: re.Pattern | None, text: str) -> bool:
    return bool(pattern and pattern.fullmatch(text))


def _alternatives(tokens: list[str]) -> re.Pattern | None:
    if not tokens:
        return None
    return re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)))


def vocab_id(tokenizer, token: str) -> int | None:
    """The id of ``token`` when it is one token of the vocabulary, else None (no full-vocab copy:
    ``get_vocab`` of a 150k vocabulary costs half a second)."""
    tid = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(tid, int) or (tid == tokenizer.unk_token_id and token != tokenizer.unk_token):
        return None
    return tid


def _token_id(tokenizer, token: str) -> int:
    if vocab_id(tokenizer, token) is None:
        raise ValueError(
            f"placeholder {token!r} is not a token of the tokenizer; call "
            "moka_train.data.tokenize.add_placeholder_tokens(tokenizer, modalities) first"
        )
    return tokenizer.convert_tokens_to_ids(token)
