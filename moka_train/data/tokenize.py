"""Render a sample into ``input_ids``, ``labels`` and ``modality_ids``, built in lockstep.

Every template segment is tokenised on its own and its ids, labels and modality ids are
appended together, so a label or a modality id can never drift off its token (the LLaVA
"tokenization mismatch" class of bugs cannot happen: nothing is re-tokenised to find offsets).

**Query span** (modality id ``QUERY``, the keys of MokA's cross-attention), decided per user turn:

1. *Explicit markers* (most robust, used by our converters when the question is embedded in
   other words): text between ``data.query_markers`` (default ``<query>`` ... ``</query>``) is
   the query; the markers themselves are removed and never tokenised.
2. *Otherwise, by lines*: every line of the user text is query text except media placeholders,
   lines (or the text beside a placeholder) that are a media lead-in (``data.media_lead_in``, default the
   official ``This is a video:`` style) and blank lines. A line such as ``<image> What is it?``
   keeps ``What is it?`` as query. Newlines and the whitespace around a
   line stay plain text. For the official prompt
   ``This is a video:\\n<video>\\nThis is an audio:\\n<audio>\\nPlease answer this question: Q``
   the query is ``Please answer this question: Q``, exactly the span the official code marks
   with ``<question_start>``/``<question_end>``.

The system prompt, template glue and assistant text are never query; the ``plain`` template
keeps only the user turn's placeholders (stage-1 captioning has no question).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

from ..config.sections.data import DEFAULT_LEAD_IN
from ..modality import QUERY, TEXT, ModalitySpec
from .records import Sample
from .templates import Segment, Turn, build_segments

IGNORE_INDEX = -100


class RenderError(ValueError):
    """A sample that cannot be rendered; ``reason`` is the bad-sample category."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class QueryRules:
    markers: tuple[str, str] = ("<query>", "</query>")
    lead_in: str = DEFAULT_LEAD_IN  # a whole line matching this is not query text


@dataclass
class Rendered:
    input_ids: torch.Tensor  # [T] long
    labels: torch.Tensor  # [T] long, IGNORE_INDEX where not trained
    modality_ids: torch.Tensor  # [T] long, TEXT / QUERY / spec.id
    media: list[str] = field(default_factory=list)  # modality names, in placeholder order

    def __len__(self) -> int:
        return int(self.input_ids.numel())


def add_placeholder_tokens(tokenizer, modalities: list[ModalitySpec]) -> int:
    """Add each modality's placeholder as a special token; returns how many were new.

    The model side must resize its embeddings to ``len(tokenizer)`` afterwards.
    """
    return tokenizer.add_tokens([m.placeholder for m in modalities], special_tokens=True)


def render(sample: Sample, template: str, tokenizer, modalities: list[ModalitySpec], max_length: int | None,
           system_prompt: str | None = None, generation: bool = False, rules: QueryRules = QueryRules()) -> Rendered:
    """One sample → lockstep tensors; raises :class:`RenderError` for bad samples."""
    return Renderer(tokenizer, template, modalities, max_length, system_prompt, rules).render(sample, generation)


# a piece of the output: its text (or placeholder ids), whether trained, its modality id
@dataclass
class _Piece:
    text: str
    trained: bool
    mid: int
    parse_special: bool = False  # glue may contain special tokens; content never
    ids: list[int] | None = None


class Renderer:
    """Holds the tokenizer-dependent state (placeholder ids, glue cache) for many renders."""

    def __init__(self, tokenizer, template: str, modalities: list[ModalitySpec], max_length: int | None,
                 system_prompt: str | None = None, rules: QueryRules = QueryRules()):
        self.tokenizer, self.template, self.max_length = tokenizer, template, max_length
        self.system_prompt, self.rules = system_prompt, rules
        self.specs = {m.name: m for m in modalities}
        self.by_placeholder = {m.placeholder: m for m in modalities}
        self.placeholder_ids = {m.placeholder: _token_id(tokenizer, m.placeholder) for m in modalities}
        alternatives = "|".join(re.escape(p) for p in sorted(self.by_placeholder, key=len, reverse=True))
        self._ph_re = re.compile(f"({alternatives})") if alternatives else None
        self._lead_in = re.compile(rf"\s*(?:{rules.lead_in})\s*")
        self._glue_cache: dict[str, list[int]] = {}

    def render(self, sample: Sample, generation: bool = False) -> Rendered:
        turns = self._with_placeholders(sample)
        system = sample.system if sample.system is not None else self.system_prompt
        segments = build_segments(self.template, turns, system, self.tokenizer.bos_token,
                                  self.tokenizer.eos_token, generation)
        pieces = [p for seg in segments for p in self._pieces(seg)]
        self._encode(pieces)
        ids = [i for p in pieces for i in p.ids]
        if self.max_length is not None and len(ids) > self.max_length:
            raise RenderError("overlength", f"sample {sample.id} ({sample.source}): {len(ids)} tokens > "
                                            f"data.max_length={self.max_length}; not truncated (it would cut "
                                            "an answer or a media block)")
        labels = [i if p.trained else IGNORE_INDEX for p in pieces for i in p.ids]
        mids = [p.mid for p in pieces for _ in p.ids]
        media = [self.by_placeholder[p.text].name for p in pieces if p.text in self.by_placeholder and p.ids
                 and p.mid != TEXT]
        return Rendered(torch.tensor(ids, dtype=torch.long), torch.tensor(labels, dtype=torch.long),
                        torch.tensor(mids, dtype=torch.long), media)

    # --- placeholders ------------------------------------------------------------------------

    def _with_placeholders(self, sample: Sample) -> list[Turn]:
        """Check placeholder/media agreement; prepend a missing placeholder to the first user turn
        (LLaVA convention, and how split multi-turn samples keep their media)."""
        unknown = sorted(set(sample.media) - set(self.specs))
        if unknown:
            raise RenderError("unknown_modality", f"sample {sample.id} ({sample.source}): media {unknown} "
                                                  f"but the model has modalities {sorted(self.specs)}")
        turns = list(sample.turns)
        for name, spec in self.specs.items():
            count = sum(t.text.count(spec.placeholder) for t in turns if t.role == "user")
            if name not in sample.media and count:
                raise RenderError("placeholder_without_media",
                                  f"sample {sample.id} ({sample.source}): {spec.placeholder} in the text but no {name!r} path")
            if name in sample.media and count > 1:
                raise RenderError("repeated_placeholder",
                                  f"sample {sample.id} ({sample.source}): {spec.placeholder} appears {count} times; one {name} per sample")
            if name in sample.media and count == 0 and turns:
                turns[0] = Turn(turns[0].role, f"{spec.placeholder}\n{turns[0].text}")
        return turns

    # --- segments → pieces --------------------------------------------------------------------

    def _pieces(self, seg: Segment) -> list[_Piece]:
        if seg.role == "user":
            return self._user_pieces(seg.text)
        trained = seg.role in ("assistant", "eot")
        return [_Piece(seg.text, trained, TEXT, parse_special=seg.role in ("glue", "eot"))]

    def _user_pieces(self, text: str) -> list[_Piece]:
        if self.template == "plain":  # captioning: keep the media, drop the instruction words
            return [self._media_piece(p) for p in self._split_placeholders(text) if p in self.by_placeholder]
        open_, close = self.rules.markers
        if open_ and open_ in text:
            parts = re.split(f"{re.escape(open_)}(.*?){re.escape(close)}", text, flags=re.S)
            # re.split with one group: even items outside the markers, odd items inside
            pieces = [pc for k, part in enumerate(parts)
                      for pc in (self._text_pieces(part, query=False) if k % 2 == 0 else self._query_pieces(part))]
        else:
            pieces = [pc for line in re.split(r"(\n)", text) for pc in self._line_pieces(line)]
        return _merge_text(pieces)

    def _line_pieces(self, line: str) -> list[_Piece]:
        out: list[_Piece] = []
        for part in self._split_placeholders(line):
            if part in self.by_placeholder:
                out.append(self._media_piece(part))
            elif not part.strip() or self._lead_in.fullmatch(part):
                out += self._text_pieces(part, query=False)
            else:
                out += self._query_pieces(part)
        return out

    def _query_pieces(self, text: str) -> list[_Piece]:
        # whitespace around the question stays plain text, so the span is the words only
        core = text.strip()
        if not core:
            return self._text_pieces(text, query=False)
        lead, tail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()):]
        return (self._text_pieces(lead, False) + self._text_pieces(core, True) + self._text_pieces(tail, False))

    def _text_pieces(self, text: str, query: bool) -> list[_Piece]:
        out = []
        for part in self._split_placeholders(text):
            if part in self.by_placeholder:
                out.append(self._media_piece(part))
            elif part:
                out.append(_Piece(part, False, QUERY if query else TEXT))
        return out

    def _split_placeholders(self, text: str) -> list[str]:
        return self._ph_re.split(text) if self._ph_re is not None else [text]

    def _media_piece(self, placeholder: str) -> _Piece:
        spec = self.by_placeholder[placeholder]
        return _Piece(placeholder, False, spec.id, ids=[self.placeholder_ids[placeholder]] * spec.num_tokens)

    # --- tokenisation -------------------------------------------------------------------------

    def _encode(self, pieces: list[_Piece]) -> None:
        """Fill ``ids`` of the text pieces with two batched tokenizer calls (glue is cached)."""
        glue = [p for p in pieces if p.ids is None and p.parse_special]
        content = [p for p in pieces if p.ids is None and not p.parse_special]
        missing = sorted({p.text for p in glue} - set(self._glue_cache))
        if missing:
            self._glue_cache.update(zip(missing, self._tokenize(missing, split_special=False)))
        for p in glue:
            p.ids = self._glue_cache[p.text]
        for p, ids in zip(content, self._tokenize([p.text for p in content], split_special=True)):
            p.ids = ids

    def _tokenize(self, texts: list[str], split_special: bool) -> list[list[int]]:
        if not texts:
            return []
        return self.tokenizer(texts, add_special_tokens=False, split_special_tokens=split_special)["input_ids"]


def _merge_text(pieces: list[_Piece]) -> list[_Piece]:
    """Join neighbouring plain-text pieces so they tokenise as the text they were."""
    out: list[_Piece] = []
    for p in pieces:
        if out and p.ids is None and out[-1].ids is None and out[-1].mid == p.mid == TEXT:
            out[-1] = _Piece(out[-1].text + p.text, False, TEXT)
        else:
            out.append(p)
    return out


def _token_id(tokenizer, token: str) -> int:
    if token not in tokenizer.get_vocab():
        raise ValueError(f"placeholder {token!r} is not a token of the tokenizer; call "
                         "moka_train.data.tokenize.add_placeholder_tokens(tokenizer, modalities) first")
    return tokenizer.convert_tokens_to_ids(token)
