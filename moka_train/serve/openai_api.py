"""OpenAI chat-completions requests -> :class:`~moka_train.serve.engine.Question`, answers -> responses.

Content parts (OpenAI's and the common vLLM extensions)::

    {"type": "text", "text": "..."}
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,..." | "/abs/path.png" | "file:///..."}}
    {"type": "video_url", "video_url": {"url": ...}}
    {"type": "audio_url", "audio_url": {"url": ...}}
    {"type": "input_audio", "input_audio": {"data": "<base64>", "format": "wav" | "mp3" | "flac"}}

A media part stands where it is in the message as the official lead-in ("This is an image:" and
the modality's placeholder), so ``[image, "What is shown?"]`` is the prompt the recipes train on.
Local paths are read only under the server's ``--media-root``; remote URLs are refused (the
server fetches nothing). Decoding is greedy: a ``temperature`` above 0, ``n`` above 1 or
``stream`` is refused rather than silently answered otherwise.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import time
import uuid
from pathlib import Path

from .engine import Media, Question, QuestionError, lead_in

PART_KINDS = {"image_url": "image", "video_url": "video", "audio_url": "audio", "input_audio": "audio"}
ROLES = ("system", "user", "assistant")


class RequestError(ValueError):
    """A request the server refuses (HTTP 400); the message names the field."""


def media_from_url(url: str, field: str, media_root: Path | None) -> Media:
    """A ``data:<mime>;base64,`` URL, or a local path (plain or ``file://``) under ``media_root``."""
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        if not header.endswith(";base64"):
            raise RequestError(f"{field}: a data URL must be base64 ('data:<mime>;base64,...')")
        mime = header[len("data:") : -len(";base64")]
        suffix = mimetypes.guess_extension(mime) or ""
        if not suffix:
            raise RequestError(f"{field}: unknown media type {mime!r} in the data URL")
        return Media(data=decode_base64(payload, field), suffix=suffix)
    if url.startswith(("http://", "https://")):
        raise RequestError(f"{field}: remote URLs are not fetched; send a base64 data URL or a local path")
    return Media(path=local_path(url.removeprefix("file://"), field, media_root))


def local_path(path: str, field: str, media_root: Path | None) -> Path:
    if media_root is None:
        raise RequestError(f"{field}: local paths are refused: the server was started without --media-root")
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(media_root.resolve()):
        raise RequestError(f"{field}: {path} is outside the server's --media-root {media_root}")
    if not resolved.is_file():
        raise RequestError(f"{field}: no such file {path}")
    return resolved


def decode_base64(payload: str, field: str) -> bytes:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{field}: not valid base64") from None


def part_media(part: dict, kind_key: str, field: str, media_root: Path | None) -> Media:
    body = part.get(kind_key)
    if not isinstance(body, dict):
        raise RequestError(f"{field}.{kind_key} must be an object")
    if kind_key == "input_audio":
        fmt = str(body.get("format", "wav"))
        return Media(data=decode_base64(str(body.get("data", "")), f"{field}.input_audio.data"), suffix=f".{fmt}")
    if not isinstance(body.get("url"), str):
        raise RequestError(f"{field}.{kind_key}.url must be a string")
    return media_from_url(body["url"], f"{field}.{kind_key}.url", media_root)


def message_text(content, field: str, engine, media: dict, media_root: Path | None) -> str:
    """The message's text with each media part replaced by its lead-in; media collected into ``media``."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise RequestError(f"{field}.content must be a string or a list of parts")
    text = []
    for k, part in enumerate(content):
        where = f"{field}.content[{k}]"
        kind_key = part.get("type") if isinstance(part, dict) else None
        if kind_key == "text":
            text.append(str(part.get("text", "")))
        elif kind_key in PART_KINDS:
            try:
                name = engine.modality_for_kind(PART_KINDS[kind_key])
            except QuestionError as err:
                raise RequestError(f"{where}: {err}") from None
            if name in media:
                raise RequestError(f"{where}: a second {name}; a request carries at most one per modality")
            media[name] = part_media(part, kind_key, where, media_root)
            text.append(lead_in(name, engine.placeholders[name]))
        else:
            raise RequestError(f"{where}: unknown part type {kind_key!r}; use text, {', '.join(PART_KINDS)}")
    return "".join(text)


def parse_request(body: dict, engine, media_root: Path | None, default_max_tokens: int) -> tuple[Question, int]:
    """The question and its token budget, or :class:`RequestError` naming the bad field."""
    if body.get("stream"):
        raise RequestError("stream: streaming is not supported; send stream=false")
    if (body.get("n") or 1) != 1:
        raise RequestError("n: only one choice per request (n=1)")
    if (body.get("temperature") or 0) > 0:
        raise RequestError("temperature: decoding is greedy; send temperature 0 or leave it out")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages: a non-empty list is required")
    media: dict[str, Media] = {}
    system, turns = None, []
    for k, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in ROLES:
            raise RequestError(f"messages[{k}].role must be one of {', '.join(ROLES)}, got {role!r}")
        text = message_text(msg.get("content"), f"messages[{k}]", engine, media, media_root)
        if role == "system":
            system = text
        else:
            turns.append((role, text))
    budget = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    if not isinstance(budget, int) or budget < 1:
        raise RequestError(f"max_tokens must be a positive integer, got {budget!r}")
    return Question(turns, media, system), budget


def completion(row: dict, model_name: str, max_tokens: int) -> dict:
    """The chat.completion object of one answer row (no ``usage``: media token counts are not
    reported per request)."""
    finish = "length" if row["generated_tokens"] >= max_tokens else "stop"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_name,
        "choices": [
            {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": row["prediction"]}}
        ],
    }
