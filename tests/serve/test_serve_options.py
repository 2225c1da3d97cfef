"""What OpenAI clients send by default (issue 33): ``temperature``/``top_p`` sample (seeded by
``seed`` or the server's own sequence) instead of a 400; every answer carries ``usage``; ``stream``
is server-sent events; a relative media path is read under ``--media-root``. In-process server
(Starlette's TestClient), answered through the official `openai` client."""

import asyncio
import json
from pathlib import Path

import openai
import pytest
from fastapi.testclient import TestClient

from moka_train.eval.generate import eval_dataset
from moka_train.serve.app import create_app
from moka_train.serve.batcher import Batcher
from moka_train.serve.engine import Sampling

QUESTION = "What is sounding?"


@pytest.fixture(scope="module")
def http(engine):
    with TestClient(create_app(engine, "tiny-moka", Path(engine.cfg.data.root), 1)) as client:
        yield client


def record(engine) -> dict:
    return json.loads(Path(engine.cfg.data.train_file).read_text().splitlines()[1])


def message(engine, video_url: str | None = None) -> list[dict]:
    r = record(engine)
    root = Path(engine.cfg.data.root)
    parts = [
        {"type": "video_url", "video_url": {"url": video_url or str(root / r["video"])}},
        {"type": "audio_url", "audio_url": {"url": str(root / r["audio"])}},
        {"type": "text", "text": QUESTION},
    ]
    return [{"role": "user", "content": parts}]


def ask(client, engine, **extra) -> str:
    reply = client.chat.completions.create(model="tiny-moka", messages=message(engine), max_tokens=8, **extra)
    return reply.choices[0].message.content


def test_temperature_and_top_p_sample_and_a_seed_repeats(client, engine):
    """Was: 400 "decoding is greedy" for any temperature above 0."""
    greedy = ask(client, engine)
    assert ask(client, engine, temperature=0) == greedy
    seeded = [ask(client, engine, temperature=1.5, seed=s) for s in range(4)]
    assert [ask(client, engine, temperature=1.5, seed=s) for s in range(4)] == seeded  # a seed repeats
    assert len(set(seeded)) > 1 and any(a != greedy for a in seeded)  # and it samples
    unseeded = {ask(client, engine, temperature=1.5) for _ in range(3)}
    assert len(unseeded) > 1  # the server's own seeds differ from request to request
    assert ask(client, engine, top_p=0.5, seed=1) == ask(client, engine, top_p=0.5, seed=1)
    with pytest.raises(openai.BadRequestError, match="top_p must be above 0"):
        ask(client, engine, top_p=0)
    with pytest.raises(openai.BadRequestError, match="seed must be an integer"):
        ask(client, engine, temperature=1.0, seed="x")


def test_usage_counts_the_prompt_the_model_saw_and_the_answer(client, engine, tmp_path):
    """prompt_tokens: the rendered prompt (media tokens included), as `evaluate run` renders the
    same record; completion_tokens: the answer's tokens (was: no usage)."""
    r = record(engine)
    official = "This is a video:\n<video>\nThis is an audio:\n<audio>\nPlease answer this question: " + QUESTION
    row = {"id": "r", "video": r["video"], "audio": r["audio"], "conversations": [{"from": "human", "value": official}]}
    (tmp_path / "r.jsonl").write_text(json.dumps(row) + "\n")
    expected = eval_dataset(engine.cfg, engine.tokenizer, engine.model, tmp_path / "r.jsonl").lengths[0]
    reply = client.chat.completions.create(model="tiny-moka", messages=message(engine), max_tokens=3)
    tokens = len(engine.tokenizer(reply.choices[0].message.content, add_special_tokens=False).input_ids)
    assert reply.usage.prompt_tokens == expected > 20
    assert reply.usage.completion_tokens == 3 >= tokens and reply.choices[0].finish_reason == "length"
    assert reply.usage.total_tokens == expected + 3


def test_stream_is_server_sent_events_ending_in_done(http, engine):
    body = {"model": "tiny-moka", "messages": message(engine), "max_tokens": 4, "stream": True}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = [e for e in response.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "length" and "usage" not in chunks[-1]
    bad = http.post("/v1/chat/completions", json={**body, "stream": "yes"})
    assert bad.status_code == 400 and "stream must be true or false" in bad.json()["error"]["message"]


def test_relative_media_paths_are_read_under_the_media_root(client, engine, monkeypatch, tmp_path):
    """Was: resolved against the server's working directory (400 "outside --media-root")."""
    monkeypatch.chdir(tmp_path)
    absolute = ask(client, engine)
    relative = client.chat.completions.create(
        model="tiny-moka", messages=message(engine, video_url=record(engine)["video"]), max_tokens=8
    )
    assert relative.choices[0].message.content == absolute
    for escaping in ("../outside.mp4", "file://../../etc/hostname"):
        with pytest.raises(openai.BadRequestError, match="outside the server's --media-root"):
            client.chat.completions.create(
                model="tiny-moka", messages=message(engine, video_url=escaping), max_tokens=2
            )


def test_a_seeded_request_is_generated_alone_and_unseeded_ones_together():
    calls = []

    class Engine:
        def answer(self, questions, budget, cancelled=None, decoding=None):
            calls.append((sorted(questions), decoding))
            return [{"prediction": q} for q in questions]

    async def run():
        batcher = Batcher(Engine(), window_ms=100)
        batcher.start()
        futures = [
            batcher.enqueue("greedy-a", 2),
            batcher.enqueue("seeded-1", 2, Sampling(1.0, 1.0, seed=1)),
            batcher.enqueue("hot-a", 2, Sampling(0.7, 1.0)),
            batcher.enqueue("seeded-2", 2, Sampling(1.0, 1.0, seed=1)),
            batcher.enqueue("hot-b", 2, Sampling(0.7, 1.0)),
            batcher.enqueue("greedy-b", 2),
        ]
        await asyncio.gather(*futures)
        await batcher.stop(1.0)

    asyncio.run(run())
    assert sorted(q for q, _ in calls) == [["greedy-a", "greedy-b"], ["hot-a", "hot-b"], ["seeded-1"], ["seeded-2"]]
