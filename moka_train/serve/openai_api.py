"""OpenAI chat-completions requests -> :class:`~moka_train.serve.engine.Question`, answers -> responses.

Content parts (OpenAI's and the common vLLM extensions)::

    {"type": "text", "text": "..."}
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,..." | "/abs/path.png" | "file:///..."}}
    {"type": "video_url", "video_url": {"url": ...}}
    {"type": "audio_url", "audio_url": {"url": ...}}
    {"type": "input_audio", "input_audio": {"data": "<base64>", "format": "wav" | "mp3" | "flac" | ...}}

The media parts and the text parts of a request are the (media, question) of the one prompt
builder (:mod:`moka_train.data.question`), so ``[image, "What is shown?"]`` is asked as ``infer
--question "What is shown?" --image ...`` asks it: the official lead-ins, "Please answer this
question: ", the question (a text that writes a placeholder such as ``<image>`` itself is kept as
written). Local paths (absolute, or relative to it) are read only under the server's
``--media-root``; remote URLs are refused (the server fetches nothing).

Decoding is greedy unless the request sets ``temperature`` above 0 or ``top_p`` below 1: then it
samples, drawing from the request's ``seed`` (answered in a batch of its own, so the same request
and seed give the same answer) or from the server's sequence of seeds. ``n`` above 1 is refused.
``stream: true`` answers as server-sent events (``chat.completion.chunk`` objects, then ``data:
[DONE]``); the answer is sent when its batch is done.

Every field is checked here, before the request joins a batch (types, ranges, roles, turn order,
media formats and sizes), so a request the model cannot answer is refused alone.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..eval.decoding import GREEDY
from .engine import Media, Question, QuestionError, Sampling

PART_KINDS = {"image_url": "image", "video_url": "video", "audio_url": "audio", "input_audio": "audio"}
ROLES = ("system", "user", "assistant")
# data-URL media types -> file suffix (an explicit table: the platform's mimetypes lacks audio/wav)
MEDIA_TYPES = {
    "image": {"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/webp": ".webp",
              "image/gif": ".gif", "image/bmp": ".bmp"},
    "video": {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "video/x-msvideo": ".avi",
              "video/x-matroska": ".mkv"},
    "audio": {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/vnd.wave": ".wav",
              "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/flac": ".flac", "audio/x-flac": ".flac",
              "audio/ogg": ".ogg", "audio/mp4": ".m4a", "audio/x-m4a": ".m4a"},
}  # fmt: skip
AUDIO_FORMATS = ("wav", "mp3", "flac", "ogg", "m4a")  # input_audio.format


class RequestError(ValueError):
    """A request the server refuses (HTTP 400, or ``status``); the message names the field."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """What one request may ask for: ``context`` is the model's positions (prompt + answer);
    ``media_bytes`` the largest media file (``data.media_max_bytes``)."""

    default_max_tokens: int = 256
    context: int | None = None
    media_bytes: int | None = None


def media_from_url(url: str, field: str, kind: str, media_root: Path | None, limits: Limits) -> Media:
    """A ``data:<mime>;base64,`` URL, or a local path (plain or ``file://``) under ``media_root``."""
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        if not header.endswith(";base64"):
            raise RequestError(f"{field}: a data URL must be base64 ('data:<mime>;base64,...')")
        mime = header[len("data:") : -len(";base64")].split(";")[0].strip().lower()
        suffix = MEDIA_TYPES[kind].get(mime)
        if suffix is None:
            raise RequestError(
                f"{field}: unknown {kind} media type {mime!r} in the data URL; "
                f"use one of {', '.join(MEDIA_TYPES[kind])}"
            )
        return Media(data=decode_base64(payload, field, limits), suffix=suffix)
    if url.startswith(("http://", "https://")):
        raise RequestError(f"{field}: remote URLs are not fetched; send a base64 data URL or a local path")
    return Media(path=local_path(url.removeprefix("file://"), field, media_root, limits))


def local_path(path: str, field: str, media_root: Path | None, limits: Limits) -> Path:
    if media_root is None:
        raise RequestError(f"{field}: local paths are refused: the server was started without --media-root")
    if "\x00" in path:
        raise RequestError(f"{field}: a path cannot hold a NUL byte")
    resolved = (media_root / path).resolve()  # an absolute path stays itself; a relative one is under the root
    if not resolved.is_relative_to(media_root.resolve()):
        raise RequestError(f"{field}: {path} is outside the server's --media-root {media_root}")
    if not resolved.is_file():
        raise RequestError(f"{field}: no such file {path}")
    size = resolved.stat().st_size
    if limits.media_bytes is not None and size > limits.media_bytes:
        raise RequestError(f"{field}: {path} is {size} bytes, above the {limits.media_bytes} byte media limit", 413)
    return resolved


def decode_base64(payload: str, field: str, limits: Limits) -> bytes:
    if limits.media_bytes is not None and len(payload) * 3 // 4 > limits.media_bytes:
        raise RequestError(f"{field}: the media is above the {limits.media_bytes} byte limit", 413)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{field}: not valid base64") from None


def part_media(part: dict, kind_key: str, field: str, media_root: Path | None, limits: Limits) -> Media:
    body = part.get(kind_key)
    if not isinstance(body, dict):
        raise RequestError(f"{field}.{kind_key} must be an object")
    if kind_key == "input_audio":
        fmt, data = body.get("format", "wav"), body.get("data")
        if fmt not in AUDIO_FORMATS:
            raise RequestError(f"{field}.input_audio.format must be one of {', '.join(AUDIO_FORMATS)}, got {fmt!r}")
        if not isinstance(data, str) or not data:
            raise RequestError(f"{field}.input_audio.data must be a non-empty base64 string")
        return Media(data=decode_base64(data, f"{field}.input_audio.data", limits), suffix=f".{fmt}")
    if not isinstance(body.get("url"), str):
        raise RequestError(f"{field}.{kind_key}.url must be a string")
    return media_from_url(body["url"], f"{field}.{kind_key}.url", PART_KINDS[kind_key], media_root, limits)


def message_text(content, field: str, engine, media: dict, media_root: Path | None, limits: Limits) -> str:
    """The message's text parts, joined; its media parts collected into ``media`` (the prompt
    builder announces them)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise RequestError(f"{field}.content must be a string or a list of parts")
    text = []
    for k, part in enumerate(content):
        where = f"{field}.content[{k}]"
        kind_key = part.get("type") if isinstance(part, dict) else None
        if kind_key == "text":
            if not isinstance(part.get("text"), str):
                raise RequestError(f"{where}.text must be a string")
            text.append(part["text"])
        elif kind_key in PART_KINDS:
            try:
                name = engine.modality_for_kind(PART_KINDS[kind_key])
            except QuestionError as err:
                raise RequestError(f"{where}: {err}") from None
            if name in media:
                raise RequestError(f"{where}: a second {name}; a request carries at most one per modality")
            media[name] = part_media(part, kind_key, where, media_root, limits)
        else:
            raise RequestError(f"{where}: unknown part type {kind_key!r}; use text, {', '.join(PART_KINDS)}")
    return "".join(text)


def _number(body: dict, key: str) -> float | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise RequestError(f"{key} must be a number, got {value!r}")
    return value


def _integer(body: dict, key: str) -> int | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise RequestError(f"{key} must be an integer, got {value!r}")
    return value


def decoding_of(body: dict):
    """Greedy (no ``temperature``, or 0, and ``top_p`` 1 or unset), else :class:`Sampling` with
    the request's ``temperature`` (0 < t <= 2, default 1), ``top_p`` (0 < p <= 1) and ``seed``."""
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or n != 1):
        raise RequestError(f"n: only one choice per request (n=1), got {n!r}")
    temperature, top_p, seed = _number(body, "temperature"), _number(body, "top_p"), _integer(body, "seed")
    if temperature is not None and not 0 <= temperature <= 2:
        raise RequestError(f"temperature must be between 0 and 2, got {temperature!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise RequestError(f"top_p must be above 0 and at most 1, got {top_p!r}")
    if temperature == 0 or (temperature is None and top_p in (None, 1)):
        return GREEDY
    return Sampling(1.0 if temperature is None else float(temperature), 1.0 if top_p is None else float(top_p), seed)


def stream_options(body: dict) -> tuple[bool, bool]:
    """(stream, include_usage): ``stream`` a boolean, ``stream_options.include_usage`` too."""
    stream, options = body.get("stream"), body.get("stream_options")
    if stream is not None and not isinstance(stream, bool):
        raise RequestError(f"stream must be true or false, got {stream!r}")
    if options is not None and (not isinstance(options, dict) or not stream):
        raise RequestError("stream_options: an object, and only with stream=true")
    usage = (options or {}).get("include_usage", False)
    if not isinstance(usage, bool):
        raise RequestError(f"stream_options.include_usage must be true or false, got {usage!r}")
    return bool(stream), usage


def token_budget(body: dict, limits: Limits) -> int:
    """max_completion_tokens, else max_tokens, else the server's default: a positive integer
    below the model's context (a budget of 0 or ``true`` is refused, not replaced)."""
    key = next((k for k in ("max_completion_tokens", "max_tokens") if body.get(k) is not None), None)
    budget = body[key] if key else limits.default_max_tokens
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise RequestError(f"{key or 'max_tokens'} must be a positive integer, got {budget!r}")
    if limits.context is not None and budget >= limits.context:
        raise RequestError(f"{key}={budget} is above the model's context of {limits.context} tokens (prompt included)")
    return budget


def conversation(messages, engine, media_root: Path | None, limits: Limits) -> tuple[str | None, list, dict]:
    """(system, turns, media): at most one system message, first; then user and assistant turns
    alternating, user first and last."""
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages: a non-empty list is required")
    media: dict[str, Media] = {}
    system, turns = None, []
    for k, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in ROLES:
            raise RequestError(f"messages[{k}].role must be one of {', '.join(ROLES)}, got {role!r}")
        text = message_text(msg.get("content"), f"messages[{k}]", engine, media, media_root, limits)
        if role == "system":
            if k != 0:
                raise RequestError(f"messages[{k}]: a system message may only come first")
            system = text
            continue
        expected = "user" if len(turns) % 2 == 0 else "assistant"
        if role != expected:
            raise RequestError(f"messages[{k}].role: expected {expected} (turns alternate, user first), got {role}")
        turns.append((role, text))
    if not turns or turns[-1][0] != "user":
        raise RequestError("messages: the conversation must end with a user message")
    return system, turns, media


@dataclass(frozen=True)
class ChatRequest:
    question: Question
    budget: int
    decoding: object = GREEDY  # GREEDY or a Sampling
    stream: bool = False
    include_usage: bool = False


def parse_request(body: dict, engine, media_root: Path | None, limits: Limits) -> ChatRequest:
    """The question, its token budget and decoding, or :class:`RequestError` naming the bad field."""
    decoding = decoding_of(body)
    stream, include_usage = stream_options(body)
    budget = token_budget(body, limits)
    system, turns, media = conversation(body.get("messages"), engine, media_root, limits)
    return ChatRequest(Question(turns, media, system), budget, decoding, stream, include_usage)


def usage(row: dict) -> dict:
    """Token counts: the prompt as the language model saw it (media tokens included), the answer."""
    prompt, completion_tokens = int(row.get("prompt_tokens", 0)), int(row["generated_tokens"])
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens, "total_tokens": prompt + completion_tokens}


def finish_reason(row: dict, max_tokens: int) -> str:
    return "length" if row["generated_tokens"] >= max_tokens else "stop"


def completion(row: dict, model_name: str, max_tokens: int) -> dict:
    """The chat.completion object of one answer row."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_name,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason(row, max_tokens),
                "message": {"role": "assistant", "content": row["prediction"]},
            }
        ],
        "usage": usage(row),
    }


def completion_chunks(row: dict, model_name: str, max_tokens: int, include_usage: bool) -> list[dict]:
    """The answer as ``chat.completion.chunk`` objects: the role, the content, the finish reason
    (and, asked for, a last chunk with no choices and the ``usage``), as OpenAI streams them."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time())}
    base["model"] = model_name

    def chunk(delta: dict, finish: str | None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""}, None), chunk({"content": row["prediction"]}, None)]
    chunks.append(chunk({}, finish_reason(row, max_tokens)))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": usage(row)})
    return chunks
