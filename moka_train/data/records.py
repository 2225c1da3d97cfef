"""The unified sample schema (LLaVA-compatible JSONL, DESIGN §5) and reading it.

One line per sample::

    {"id": "q1", "video": "clips/a.mp4", "audio": "clips/a.wav",
     "conversations": [{"from": "human", "value": "<video>\\n<audio>\\nWhat ...?"},
                       {"from": "gpt", "value": "..."}]}

Media keys name modalities (``image``, ``video``, ``audio``, ``speech`` or any configured
modality name); their paths are relative to ``data.root`` and confined to it. Other keys are
kept as ``meta`` (benchmark converters store the truth there). Structural errors (bad JSON, a
missing ``conversations`` list, an unknown speaker) raise naming the file and line; semantic
problems (no answer to train on) are left to the dataset's bad-sample policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..utils.jsonl import LineProblem, parse_object, read_lines, scan_lines
from ..utils.paths import resolve_under
from .templates import Turn

DEFAULT_MEDIA_KEYS = ("image", "video", "audio", "speech")
_SPEAKERS = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


class RecordError(ValueError):
    """A JSONL line that does not follow the schema; the message names file and line."""


@dataclass(frozen=True)
class Sample:
    id: str
    turns: tuple[Turn, ...]
    media: dict[str, str] = field(default_factory=dict)  # modality name -> path relative to root
    system: str | None = None  # a per-sample system prompt overrides data.system_prompt
    meta: dict = field(default_factory=dict)
    source: str = "?"  # "file:line", for error messages
    # modality -> the record key its file came under, where they differ (a key the modality accepts)
    media_keys: dict[str, str] = field(default_factory=dict)

    @property
    def signature(self) -> str:
        """Which modalities the sample carries, e.g. ``"audio+video"`` (``"text"`` if none)."""
        return "+".join(sorted(self.media)) or "text"

    def media_paths(self, root: str | Path) -> dict[str, Path]:
        """Absolute media paths, refusing absolute and escaping paths (names the sample)."""
        return {name: resolve_under(root, rel, self.id) for name, rel in self.media.items()}


def read_jsonl(path: str | Path, media_keys: tuple[str, ...] = DEFAULT_MEDIA_KEYS) -> list[Sample]:
    """All samples of a JSONL file; blank lines are ignored."""
    path = Path(path)
    lines = read_lines(path, file_kind="data file")
    return [parse_record(line, f"{path}:{lineno}", media_keys) for lineno, line in lines]


def read_records(
    path: str | Path, media_keys: tuple[str, ...] = DEFAULT_MEDIA_KEYS, max_line_bytes: int | None = None
) -> list[tuple[Sample, LineProblem | None]]:
    """Every non-blank line in file order: its sample, or a stand-in sample (id and source
    ``file:line``) with the :class:`LineProblem` that kept it undecoded (over ``max_line_bytes``,
    not UTF-8), for the caller's bad-sample policy."""
    path = Path(path)
    out = []
    for lineno, line in scan_lines(path, max_line_bytes, file_kind="data file"):
        source = f"{path}:{lineno}"
        if isinstance(line, LineProblem):
            out.append((Sample(source, (), source=source), line))
        else:
            out.append((parse_record(line, source, media_keys), None))
    return out


def parse_record(line: str, source: str, media_keys: tuple[str, ...] = DEFAULT_MEDIA_KEYS) -> Sample:
    obj = parse_object(line, source, RecordError, "a record")
    sample_id = str(obj.get("id", source))
    convs = obj.get("conversations")
    if not isinstance(convs, list):
        raise RecordError(f"{source}: sample {sample_id}: 'conversations' must be a list")
    turns, system = _parse_turns(convs, source, sample_id)
    media = {k: obj[k] for k in media_keys if obj.get(k) is not None}
    for key, value in media.items():
        if not isinstance(value, str):
            raise RecordError(f"{source}: sample {sample_id}: {key!r} must be one path string, got {value!r}")
    meta = {k: v for k, v in obj.items() if k not in media and k not in ("id", "conversations")}
    return Sample(sample_id, tuple(turns), media, system, meta, source)


def _parse_turns(convs: list, source: str, sample_id: str) -> tuple[list[Turn], str | None]:
    turns, system = [], None
    for k, msg in enumerate(convs):
        if not isinstance(msg, dict) or not isinstance(msg.get("value"), str):
            raise RecordError(f"{source}: sample {sample_id}: turn {k} needs a string 'value'")
        role = _SPEAKERS.get(str(msg.get("from", "")).lower())
        if role is None:
            raise RecordError(
                f"{source}: sample {sample_id}: turn {k} has unknown speaker {msg.get('from')!r}; "
                f"use one of {sorted(_SPEAKERS)}"
            )
        if role == "system":
            system = msg["value"]
        else:
            turns.append(Turn(role, msg["value"]))
    return turns, system


def conversation_problem(sample: Sample, generation: bool = False) -> str | None:
    """Why a sample cannot be trained on (a bad-sample reason), or None.

    Turns must alternate user/assistant starting with the user; training needs a non-empty
    answer in every assistant turn and at least one of them; generation needs a final user turn
    (a trailing reference answer is ignored by :func:`for_generation`).
    """
    if not sample.turns:
        return "empty_conversation"
    roles = [t.role for t in sample.turns]
    if any(r != ("user" if i % 2 == 0 else "assistant") for i, r in enumerate(roles)):
        return "bad_turn_order"
    if generation:
        return None
    if len(roles) < 2 or any(not t.text.strip() for t in sample.turns if t.role == "assistant"):
        return "no_assistant_turn"
    return None


def split_turns(sample: Sample) -> list[Sample]:
    """One sample per (user, assistant) pair, each carrying the sample's media.

    The ids become ``<id>#<k>``; ``render`` re-inserts media placeholders that only the first
    turn mentioned, so every split sample still sees its media.
    """
    pairs = [sample.turns[i : i + 2] for i in range(0, len(sample.turns), 2)]
    if len(pairs) <= 1:
        return [sample]
    return [replace(sample, id=f"{sample.id}#{k}", turns=tuple(p)) for k, p in enumerate(pairs)]


def for_generation(sample: Sample) -> Sample:
    """The prompt part of a sample: everything up to and including the last user turn."""
    turns = sample.turns
    if turns and turns[-1].role == "assistant":
        turns = turns[:-1]
    return replace(sample, turns=turns)
