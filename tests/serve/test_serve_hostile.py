"""Hostile and careless requests (issue 32): one bad request never fails another, every field is
checked before batching, and requests are bounded (body size, token budget, media size). The
server runs in-process (the ASGI app behind Starlette's TestClient, an httpx client), answered
through the official `openai` client."""

import asyncio
import base64
import io
import json
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import openai
import pytest
from fastapi.testclient import TestClient

from moka_train.serve.app import ServeBounds, create_app
from moka_train.serve.batcher import Batcher
from moka_train.serve.engine import Media, Question

WINDOW_MS = 300  # concurrent requests of one test share a batch


@pytest.fixture(scope="module")
def http(engine):
    root = Path(engine.cfg.data.root)
    app = create_app(engine, "tiny-moka", root, WINDOW_MS, bounds=ServeBounds(max_body_bytes=2**20))
    with TestClient(app) as client:
        yield client


def record(engine, k: int = 0) -> dict:
    return json.loads(Path(engine.cfg.data.train_file).read_text().splitlines()[k])


def wav_bytes(seconds: float = 1.0, rate: int = 16000) -> bytes:
    pcm = (np.sin(np.arange(int(seconds * rate)) * 0.05) * 8000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(pcm.tobytes())
    return buf.getvalue()


def audio_part(data: bytes, fmt: str = "wav") -> dict:
    return {"type": "input_audio", "input_audio": {"data": base64.b64encode(data).decode(), "format": fmt}}


def good_message(engine) -> list[dict]:
    r = record(engine)
    root = Path(engine.cfg.data.root)
    return [
        {
            "role": "user",
            "content": [
                {"type": "video_url", "video_url": {"url": str(root / r["video"])}},
                audio_part((root / r["audio"]).read_bytes()),
                {"type": "text", "text": "What colour is it?"},
            ],
        }
    ]


def ask(client, messages, **extra):
    return client.chat.completions.create(model="tiny-moka", messages=messages, max_tokens=3, **extra)


BAD_REQUESTS = [
    ([{"role": "user", "content": [audio_part(wav_bytes(), "a/b"), {"type": "text", "text": "?"}]}], "format"),
    ([{"role": "user", "content": [audio_part(wav_bytes(), ""), {"type": "text", "text": "?"}]}], "format"),
    ([{"role": "user", "content": [audio_part(wav_bytes(), "wav\x00"), {"type": "text", "text": "?"}]}], "format"),
    ([{"role": "system", "content": "be brief"}], "must end with a user message"),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], r"messages\[1\].role: expected assistant"),
]


def test_one_bad_request_never_fails_the_others_batched_with_it(client, engine):
    good = good_message(engine)
    alone = ask(client, good).choices[0].message.content

    def send(messages):
        try:
            return ask(client, messages).choices[0].message.content
        except openai.APIStatusError as err:
            return err

    with ThreadPoolExecutor(len(BAD_REQUESTS) + 2) as pool:
        answers = list(pool.map(send, [good] + [m for m, _ in BAD_REQUESTS] + [good]))
    assert answers[0] == answers[-1] == alone
    for (_, message), err in zip(BAD_REQUESTS, answers[1:-1]):
        assert isinstance(err, openai.BadRequestError), err
        assert __import__("re").search(message, err.message), err.message


def test_engine_answers_a_bad_question_alone(engine):
    """Below the HTTP checks: a question the engine cannot write or render fails alone (was: one
    exception, or the recipe's max_bad_fraction, failed the whole batch)."""
    r = record(engine)
    root = Path(engine.cfg.data.root)
    media = {"video": Media(path=root / r["video"]), "audio": Media(path=root / r["audio"])}
    good = Question([("user", "What colour is it?")], media)
    bad_suffix = Question([("user", "?")], {"audio": Media(data=wav_bytes(), suffix="./x")})
    only_system = Question([], {}, system="be brief")
    rows = engine.answer([good, bad_suffix, only_system, good], 3)
    assert rows[0]["prediction"] == rows[3]["prediction"]
    assert rows[1]["error"] == "bad_question" and rows[2]["error"] == "empty_conversation"


def test_batcher_answers_each_alone_when_a_batched_call_raises():
    class Engine:
        def answer(self, questions, budget, cancelled=None, decoding=None):
            if any(q == "boom" for q in questions):
                raise RuntimeError("boom")
            return [{"prediction": q} for q in questions]

    async def run():
        batcher = Batcher(Engine(), window_ms=50)
        batcher.start()
        futures = [batcher.enqueue(q, 4) for q in ("a", "boom", "b")]
        done = await asyncio.gather(*futures, return_exceptions=True)
        await batcher.stop(1.0)
        return done

    a, boom, b = asyncio.run(run())
    assert a == {"prediction": "a"} and b == {"prediction": "b"} and isinstance(boom, RuntimeError)


def test_shutdown_grace_is_bounded_and_queued_requests_are_refused():
    import threading
    import time

    release = threading.Event()

    class Slow:
        def answer(self, questions, budget, cancelled=None, decoding=None):
            release.wait(5)
            return [{"prediction": "x"} for _ in questions]

    async def run():
        batcher = Batcher(Slow(), window_ms=1, max_batch=1)
        batcher.start()
        first = batcher.enqueue("a", 1)
        await asyncio.sleep(0.05)  # the first is in flight
        queued = batcher.enqueue("b", 1)
        start = time.perf_counter()
        await batcher.stop(grace_s=0.3)
        took = time.perf_counter() - start
        release.set()
        return first, queued, took

    first, queued, took = asyncio.run(run())
    assert took < 1.0
    assert "shutting down" in str(queued.exception())


def test_data_url_audio_wav_is_accepted(client, engine):
    """What OpenAI clients send: data:audio/wav (was refused: the MIME table knew only audio/x-wav)."""
    r = record(engine)
    root = Path(engine.cfg.data.root)
    url = "data:audio/wav;base64," + base64.b64encode((root / r["audio"]).read_bytes()).decode()
    content = [
        {"type": "video_url", "video_url": {"url": str(root / r["video"])}},
        {"type": "audio_url", "audio_url": {"url": url}},
        {"type": "text", "text": "What colour is it?"},
    ]
    assert (
        ask(client, [{"role": "user", "content": content}]).choices[0].message.content
        == ask(client, good_message(engine)).choices[0].message.content
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"temperature": "0.5"}, "temperature must be a number"),
        ({"max_tokens": 0}, "max_tokens must be a positive integer, got 0"),
        ({"max_tokens": True}, "max_tokens must be a positive integer, got True"),
        ({"max_tokens": 1_000_000}, "above the model's context of 2048 tokens"),
        ({"n": 2}, "only one choice"),
    ],
)
def test_bad_options_are_400_naming_the_field(client, engine, extra, message):
    body = {"model": "tiny-moka", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, **extra}
    with pytest.raises(openai.BadRequestError, match=message):
        client.chat.completions.create(**body)


def test_budget_is_capped_by_context_minus_prompt(client, engine):
    """max_tokens below the context but too large for this prompt: 400 naming the prompt length
    (was: generation ran past the model's positions)."""
    with pytest.raises(openai.BadRequestError, match=r"context_length_exceeded: the prompt is \d+ tokens"):
        client.chat.completions.create(
            model="tiny-moka", messages=[{"role": "user", "content": "hi " * 40}], max_tokens=2040
        )


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError, match="model 'gpt-4o' not found"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=2)


def test_deep_json_and_oversized_bodies_are_refused(http):
    deep = '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = http.post("/v1/chat/completions", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 400 and "nested too deeply" in response.json()["error"]["message"]
    big = json.dumps({"model": "tiny-moka", "messages": [{"role": "user", "content": "x" * (2**20 + 10)}]})
    response = http.post("/v1/chat/completions", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "byte limit" in response.json()["error"]["message"]


def test_audio_bomb_is_413_and_errors_hide_scratch_paths(client, engine):
    """A WAV declaring a 1 Hz rate is refused from its header (was: decoded and resampled whole);
    the refusal of a broken file names the request's input, not the server's scratch directory."""
    bomb = wav_bytes(seconds=1.0, rate=16000)
    bomb = bomb[:24] + (1).to_bytes(4, "little") + (2).to_bytes(4, "little") + bomb[32:]  # rate 1 Hz, 2 B/s
    with pytest.raises(openai.APIStatusError, match="declares 1 Hz") as info:
        ask(client, [{"role": "user", "content": [audio_part(bomb), {"type": "text", "text": "?"}]}])
    assert info.value.status_code == 413
    with pytest.raises(openai.BadRequestError) as info:
        ask(client, [{"role": "user", "content": [audio_part(b"RIFF0000WAVEfmt "), {"type": "text", "text": "?"}]}])
    assert "moka-serve-" not in info.value.message and "/tmp" not in info.value.message
    assert "the audio input" in info.value.message


def test_disconnected_or_timed_out_requests_are_not_generated():
    """A request whose future is cancelled before its batch starts is dropped, not generated."""
    calls = []

    class Engine:
        def answer(self, questions, budget, cancelled=None, decoding=None):
            calls.append(list(questions))
            return [{"prediction": q} for q in questions]

    async def run():
        batcher = Batcher(Engine(), window_ms=100)
        batcher.start()
        gone = batcher.enqueue("gone", 2)
        kept = batcher.enqueue("kept", 2)
        gone.cancel()  # what the app does when the client disconnects or its time runs out
        answer = await kept
        await batcher.stop(1.0)
        return answer

    assert asyncio.run(run()) == {"prediction": "kept"}
    assert calls == [["kept"]]


def test_generation_stops_once_its_askers_are_gone(engine):
    """The batch whose clients all left stops at its next token (was: generated to the budget)."""
    question = Question([("user", "hi")])
    full = engine.answer([question], 40)[0]
    stopped = engine.answer([question], 40, cancelled=lambda: True)[0]
    assert full["generated_tokens"] > 5 and stopped["generated_tokens"] == 1
    assert engine.answer([question], 40)[0] == {**full, "id": full["id"]}  # the override is removed after


def test_request_timeout_is_504(engine):
    import threading

    release = threading.Event()

    class Slow:
        cfg = engine.cfg
        placeholders = engine.placeholders

        def context(self):
            return 2048

        def answer(self, questions, budget, cancelled=None, decoding=None):
            while not cancelled():  # the timed-out request's future is cancelled: generation stops
                release.wait(0.05)
            return [{"prediction": "x", "generated_tokens": 1} for _ in questions]

    app = create_app(Slow(), "m", None, 1, bounds=ServeBounds(request_timeout_s=0.3, shutdown_grace_s=2.0))
    with TestClient(app) as http:
        client = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", max_retries=0, http_client=http)
        with pytest.raises(openai.APIStatusError, match="no answer within") as info:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
        release.set()
    assert info.value.status_code == 504
