"""`moka-train serve --config C --checkpoint E`: an OpenAI-compatible chat-completions server.

    POST /v1/chat/completions   text + image / video / audio parts; greedy or sampled answers of the
                                folded model, with ``usage``; ``stream: true`` as server-sent events
    GET  /v1/models             the one model served
    GET  /v1/moka/stats         sizes of the batched generate calls run so far

vLLM and SGLang cannot serve MokA through their multi-LoRA support: they apply one LoRA (A, B)
per request to every token, while MokA routes each token through the A of its modality and lets
the media tokens attend to the question (cross-attention) during prefill. This server runs the
model itself, batching requests that arrive together (``serve.batcher``).

Bounds: a body above ``max_body_bytes`` is refused (413) before it is parsed; a request waits at
most ``request_timeout_s`` for its answer (504) and is dropped from the queue when its client
disconnects; shutdown waits at most ``shutdown_grace_s`` for the batch in flight (503 for the
rest). Refusals are ``{"error": {"message", "type"}}`` bodies that name the field and never a
server path.
"""

from __future__ import annotations

import asyncio
import json
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ..utils.logging import get_logger
from .batcher import Batcher, ServerClosing
from .engine import ERROR_STATUS, AnswerEngine
from .openai_api import Limits, RequestError, completion, completion_chunks, parse_request

log = get_logger(__name__)


@dataclass(frozen=True)
class ServeBounds:
    """Per-request bounds of the server (the ``serve`` command's flags)."""

    max_body_bytes: int = 64 * 1024**2
    request_timeout_s: float = 300.0
    shutdown_grace_s: float = 10.0


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


def create_app(
    engine: AnswerEngine,
    model_name: str,
    media_root: Path | None = None,
    window_ms: float = 10.0,
    max_batch: int = 16,
    default_max_tokens: int = 256,
    bounds: ServeBounds = ServeBounds(),
):
    batcher = Batcher(engine, window_ms, max_batch)
    limits = Limits(default_max_tokens, engine.context(), engine.cfg.data.media_max_bytes)

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        loop = asyncio.get_running_loop()
        app.state.begin_shutdown = lambda: loop.call_soon_threadsafe(batcher.close)  # see run_server
        yield
        await batcher.stop(bounds.shutdown_grace_s)

    app = FastAPI(title="moka-train", lifespan=lifespan)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            body = await read_json(request, bounds.max_body_bytes)
            if body.get("model") not in (None, model_name):
                return error(404, f"model {body['model']!r} not found; this server serves {model_name!r}", "not_found")
            asked = parse_request(body, engine, media_root, limits)
            budget = asked.budget
            future = batcher.enqueue(asked.question, budget, asked.decoding)
        except RequestError as err:
            return error(err.status, str(err))
        except ServerClosing as err:
            return error(503, str(err), "server_error")
        try:
            row = await wait_answer(request, future, bounds.request_timeout_s)
        except ClientGone:
            return error(499, "client closed the request")
        except asyncio.TimeoutError:
            return error(504, f"no answer within {bounds.request_timeout_s:g} s; the request was dropped", "timeout")
        except ServerClosing as err:
            return error(503, str(err), "server_error")
        except Exception:  # a fault of the server, not of the request: logged here, not shown
            log.exception("request failed")
            return error(500, "internal server error while answering (see the server log)", "server_error")
        if row.get("error"):
            return row_error(row, budget, limits)
        if asked.stream:
            return event_stream(completion_chunks(row, model_name, budget, asked.include_usage))
        return completion(row, model_name, budget)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "moka-train"}]}

    @app.get("/v1/moka/stats")
    async def stats():
        return {"batch_sizes": list(batcher.batch_sizes)}

    return app


def event_stream(chunks: list[dict]) -> StreamingResponse:
    """Server-sent events: one ``data: <chunk>`` event per chunk, then ``data: [DONE]``."""
    events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
    return StreamingResponse(iter(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind}})


async def read_json(request: Request, limit: int) -> dict:
    """The body as a JSON object, read only up to ``limit`` bytes (413 above it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(f"the request body is {declared} bytes, above the server's {limit} byte limit", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(f"the request body is above the server's {limit} byte limit", 413)
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except RecursionError:
        raise RequestError("the request body is nested too deeply") from None
    except ValueError as err:  # not JSON, or not UTF-8
        raise RequestError(f"the request body is not valid JSON ({err})") from None
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    return body


async def wait_answer(request: Request, future: asyncio.Future, timeout_s: float) -> dict:
    """The answer row; the request is dropped (its future cancelled) when the client leaves or
    the time runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            future.cancel()
            raise asyncio.TimeoutError
        try:
            done, _ = await asyncio.wait({future}, timeout=min(0.5, remaining))
        except asyncio.CancelledError:  # the server cancels the handler (shutdown): drop the request
            future.cancel()
            raise
        if done:
            return future.result()
        if await request.is_disconnected():
            future.cancel()
            raise ClientGone


def row_error(row: dict, budget: int, limits: Limits) -> JSONResponse:
    detail = row.get("detail", "")
    if row["error"] == "overlength":
        found = re.search(r"(\d+) tokens > data\.max_length=(\d+)", detail)
        prompt = f"the prompt is {found.group(1)} tokens" if found else "the prompt is too long"
        return error(
            400,
            f"context_length_exceeded: {prompt}; with max_tokens={budget} at most "
            f"{found.group(2) if found else '?'} prompt tokens fit (model context {limits.context})",
        )
    return error(ERROR_STATUS.get(row["error"], 400), f"{row['error']}: {detail}".strip(": "))


def run_server(app, host: str, port: int, grace_s: float, log_level: str = "warning") -> None:
    """uvicorn, with SIGTERM / SIGINT failing the queued requests at once (503) and giving the
    open connections ``grace_s`` to finish (uvicorn runs the app's shutdown only after them)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            begin = getattr(app.state, "begin_shutdown", None)
            if begin is not None:
                begin()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=max(1, round(grace_s))
    )
    Server(config).run()
