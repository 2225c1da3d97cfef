"""`moka-train serve --config C --checkpoint E`: an OpenAI-compatible chat-completions server.

    POST /v1/chat/completions   text + image / video / audio parts, greedy answers of the folded model
    GET  /v1/models             the one model served
    GET  /v1/moka/stats         sizes of the batched generate calls run so far

vLLM and SGLang cannot serve MokA through their multi-LoRA support: they apply one LoRA (A, B)
per request to every token, while MokA routes each token through the A of its modality and lets
the media tokens attend to the question (cross-attention) during prefill. This server runs the
model itself, batching requests that arrive together (``serve.batcher``).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .batcher import Batcher
from .engine import AnswerEngine
from .openai_api import RequestError, completion, parse_request


def create_app(
    engine: AnswerEngine,
    model_name: str,
    media_root: Path | None = None,
    window_ms: float = 10.0,
    max_batch: int = 16,
    default_max_tokens: int = 256,
):
    batcher = Batcher(engine, window_ms, max_batch)

    @asynccontextmanager
    async def lifespan(_app):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="moka-train", lifespan=lifespan)

    def error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind}})

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise RequestError("the request body must be a JSON object")
            question, budget = parse_request(body, engine, media_root, default_max_tokens)
        except ValueError as err:  # RequestError, or a body that is not JSON
            return error(400, str(err))
        row = await batcher.submit(question, budget)
        if row.get("error"):
            return error(400, f"{row['error']}: {row.get('detail', '')}".strip(": "))
        return completion(row, model_name, budget)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "moka-train"}]}

    @app.get("/v1/moka/stats")
    async def stats():
        return {"batch_sizes": list(batcher.batch_sizes)}

    return app
