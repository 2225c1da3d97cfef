"""`moka-train serve` answered through the official `openai` client: the answers are those of our own
generation pipeline for the same record, requests that arrive together share one batched generate,
and bad requests are refused naming what is wrong. One server start for the module."""

import base64
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from eval_run.tiny_export import CONFIG, build_export
from processes import free_port, serve_command, wait_until_serving

from moka_train.eval.generate import generate_predictions, load_for_inference

LEAD_IN = "This is a video:\n<video>\nThis is an audio:\n<audio>\nPlease answer this question: "  # the records' prompt
WINDOW_MS = 400  # long enough that four concurrent requests from this test land in one batch


@pytest.fixture(scope="module")
def exported(workspace, tmp_path_factory):
    return build_export(workspace, tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def server(exported, workspace, tmp_path_factory):
    cfg, export, _ = exported
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "server.log"
    env = {**os.environ, "DEMO_ROOT": str(workspace), "OMP_NUM_THREADS": "1"}
    cmd = serve_command(CONFIG, export, port, cfg.data.root, "tiny-moka", "--batch-window-ms", str(WINDOW_MS))
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, f"{base}/v1/models", log)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=300)


def samples(cfg, n: int) -> list[dict]:
    return [json.loads(line) for line in Path(cfg.data.train_file).read_text().splitlines()[:n]]


def human_turn(record: dict) -> str:
    return record["conversations"][0]["value"]


def media_message(cfg, record: dict) -> list[dict]:
    """The video as a local path, the audio as base64 WAV, then the record's question (the server
    asks it in the official form the record was written in)."""
    root = Path(cfg.data.root)
    assert human_turn(record).startswith(LEAD_IN)
    audio = base64.b64encode((root / record["audio"]).read_bytes()).decode()
    return [
        {
            "role": "user",
            "content": [
                {"type": "video_url", "video_url": {"url": str(root / record["video"])}},
                {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}},
                {"type": "text", "text": human_turn(record).removeprefix(LEAD_IN)},
            ],
        }
    ]


def reference_answers(exported, records: list[dict], tmp_path: Path, max_new_tokens: int) -> list[str]:
    """Our pipeline (`infer`) on the same records (their first question), one at a time."""
    cfg, export, _ = exported
    tokenizer, model = load_for_inference(cfg, export)
    answers = []
    for k, r in enumerate(records):
        file = tmp_path / f"ref{k}.jsonl"
        file.write_text(
            json.dumps(
                {"id": r["id"], "video": r["video"], "audio": r["audio"], "conversations": r["conversations"][:1]}
            )
            + "\n"
        )
        answers.append(generate_predictions(cfg, tokenizer, model, file, 1, max_new_tokens)[0]["prediction"])
    return answers


def test_answers_equal_our_pipeline_alone_and_batched(exported, client, server, tmp_path):
    cfg = exported[0]
    records = samples(cfg, 4)
    expected = reference_answers(exported, records, tmp_path, max_new_tokens=6)
    assert len(set(expected)) > 1  # answers that depend on the media
    alone = [
        client.chat.completions.create(model="tiny-moka", messages=media_message(cfg, r), max_tokens=6) for r in records
    ]
    assert [c.choices[0].message.content for c in alone] == expected
    assert alone[0].model == "tiny-moka" and alone[0].choices[0].message.role == "assistant"
    before = httpx.get(f"{server}/v1/moka/stats").json()["batch_sizes"]
    assert before == [1, 1, 1, 1]
    with ThreadPoolExecutor(4) as pool:
        together = list(
            pool.map(
                lambda r: client.chat.completions.create(
                    model="tiny-moka", messages=media_message(cfg, r), max_tokens=6
                ),
                records,
            )
        )
    assert [c.choices[0].message.content for c in together] == expected
    after = httpx.get(f"{server}/v1/moka/stats").json()["batch_sizes"]
    assert after[len(before) :] == [4]  # one generate for the four requests


def test_refusals_name_the_problem(client, tmp_path):
    png = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    cases = [
        (
            [{"type": "image_url", "image_url": {"url": png}}, {"type": "text", "text": "what?"}],
            {},
            "this model takes no image input",
        ),
        ([{"type": "video_url", "video_url": {"url": "/etc/hostname"}}], {}, "outside the server's --media-root"),
        ([{"type": "video_url", "video_url": {"url": "https://example.com/a.mp4"}}], {}, "remote URLs are not fetched"),
        ("hello", {"temperature": 2.5}, "temperature must be between 0 and 2"),
        ([{"type": "input_audio", "input_audio": {"data": "%%%", "format": "wav"}}], {}, "not valid base64"),
    ]
    for content, extra, message in cases:
        with pytest.raises(openai.BadRequestError, match=message):
            client.chat.completions.create(
                model="tiny-moka", messages=[{"role": "user", "content": content}], max_tokens=2, **extra
            )
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEfmt ")
    bad_audio = base64.b64encode(broken.read_bytes()).decode()
    with pytest.raises(openai.BadRequestError, match="audio"):  # the sample's media error, reported
        parts = [
            {"type": "input_audio", "input_audio": {"data": bad_audio, "format": "wav"}},
            {"type": "text", "text": "?"},
        ]
        client.chat.completions.create(model="tiny-moka", max_tokens=2, messages=[{"role": "user", "content": parts}])


def test_stream_through_the_client_is_the_answer_as_server_sent_events(exported, client):
    """stream=True (was refused with 400): chat.completion.chunk events that add up to the
    non-streamed answer, a finish reason, the usage chunk asked for, then [DONE]."""
    cfg = exported[0]
    message = media_message(cfg, samples(cfg, 1)[0])
    whole = client.chat.completions.create(model="tiny-moka", messages=message, max_tokens=6)
    chunks = list(
        client.chat.completions.create(
            model="tiny-moka", messages=message, max_tokens=6, stream=True, stream_options={"include_usage": True}
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == whole.choices[0].finish_reason
    assert chunks[-1].usage == whole.usage and whole.usage.completion_tokens > 0
