"""One (media, question), one prompt (issue 33) answered in memory (issue 35): `infer --question`,
the server (engine and HTTP), the lmms-eval plugin and `evaluate run` on the record written in the
official form all give the model the same token ids and get the same answer; a server request
writes no file (no temporary directory, no scratch media, no JSONL)."""

import builtins
import io
import json
import pathlib
import tempfile
from pathlib import Path
from types import SimpleNamespace

import openai
import pytest
from eval_run.tiny_export import build_export
from fastapi.testclient import TestClient

from moka_train.data.official_prompt import QUESTION_LEAD
from moka_train.data.question import Media, Question
from moka_train.eval.generate import answer_question, generate_predictions
from moka_train.serve.app import create_app
from moka_train.serve.engine import AnswerEngine

QUESTION = "How many instruments are sounding?"
BUDGET = 5


@pytest.fixture(scope="module")
def engine(workspace, tmp_path_factory):
    cfg, export, _ = build_export(workspace, tmp_path_factory.mktemp("export"))
    return AnswerEngine(cfg, export)


@pytest.fixture
def prompts(engine, monkeypatch):
    """The input ids of every generate call, per row, without padding (a spy on the model class:
    the engine's stopping override goes through the class too)."""
    seen: list[list[int]] = []
    model_type = type(engine.model)
    original = model_type.generate

    def spy(self, batch, *args, **kwargs):
        for ids, mask in zip(batch["input_ids"], batch["attention_mask"]):
            seen.append(ids[mask.bool()].tolist())
        return original(self, batch, *args, **kwargs)

    monkeypatch.setattr(model_type, "generate", spy)
    return seen


def clip(engine) -> tuple[Path, Path]:
    record = json.loads(Path(engine.cfg.data.train_file).read_text().splitlines()[3])
    root = Path(engine.cfg.data.root)
    return root / record["video"], root / record["audio"]


def lmms_plugin(engine):
    """The plugin class around the loaded engine (its __init__ would load the export again)."""
    from moka_train.integrations.lmms.model import MokaLMMS

    plugin = MokaLMMS.__new__(MokaLMMS)
    plugin.engine, plugin.batch_size, plugin.task_dict = engine, 1, {"t": {"test": {0: {}}}}
    return plugin


def by_route(engine, tmp_path: Path) -> dict[str, str]:
    video, audio = clip(engine)
    answers = {}
    media = {"video": str(video), "audio": str(audio)}
    answers["infer"] = answer_question(engine.cfg, engine.tokenizer, engine.model, media, QUESTION)["prediction"]
    asked = Question([("user", QUESTION)], {"video": Media(path=video), "audio": Media(path=audio)})
    answers["engine"] = engine.answer([asked], 32)[0]["prediction"]
    app = create_app(engine, "tiny-moka", Path(engine.cfg.data.root), 1)
    with TestClient(app) as http:
        client = openai.OpenAI(base_url="http://testserver/v1", api_key="-", max_retries=0, http_client=http)
        parts = [
            {"type": "video_url", "video_url": {"url": str(video)}},
            {"type": "audio_url", "audio_url": {"url": str(audio.relative_to(engine.cfg.data.root))}},
            {"type": "text", "text": QUESTION},
        ]
        reply = client.chat.completions.create(
            model="tiny-moka", messages=[{"role": "user", "content": parts}], max_tokens=32
        )
        answers["server"] = reply.choices[0].message.content
    visuals = [{"modality": "video", "path": str(video)}, {"modality": "audio", "path": str(audio)}]
    request = SimpleNamespace(args=(QUESTION, {"max_new_tokens": 32, "until": []}, lambda doc: visuals, 0, "t", "test"))
    answers["lmms"] = lmms_plugin(engine).generate_until([request])[0]
    # evaluate run: the record as the converters write it, the official prompt, media under data.root
    official = "This is a video:\n<video>\nThis is an audio:\n<audio>\n" + QUESTION_LEAD + QUESTION
    record = {"id": "r", "video": str(video.relative_to(engine.cfg.data.root)), "audio": str(audio.name)}
    record["audio"] = str(audio.relative_to(engine.cfg.data.root))
    file = tmp_path / "record.jsonl"
    file.write_text(json.dumps({**record, "conversations": [{"from": "human", "value": official}]}) + "\n")
    answers["evaluate"] = generate_predictions(engine.cfg, engine.tokenizer, engine.model, file)[0]["prediction"]
    return answers


def test_every_route_gives_the_model_the_same_prompt_and_answer(engine, prompts, tmp_path):
    """Was: `infer --question` asked "Please answer this question: Q", the server and the plugin
    asked "Q" (different ids, different answers)."""
    answers = by_route(engine, tmp_path)
    assert len(prompts) == 5
    assert all(ids == prompts[0] for ids in prompts), "the routes built different prompts"
    text = engine.tokenizer.decode(prompts[0])
    assert QUESTION_LEAD + QUESTION in text and "This is a video:" in text
    assert len(set(answers.values())) == 1, answers


def test_a_prompt_written_with_placeholders_is_kept_as_written(engine, prompts):
    """A benchmark row in the official form (an lmms-eval task's context) is not wrapped twice."""
    video, audio = clip(engine)
    media = {"video": Media(path=video), "audio": Media(path=audio)}
    own = "<video>\n<audio>\nIs it loud?"
    engine.answer([Question([("user", own)], media)], 2)
    assert QUESTION_LEAD not in engine.tokenizer.decode(prompts[0])


def test_a_request_writes_no_file(engine, monkeypatch):
    """The request goes to the model in memory: no temporary directory, no file opened for
    writing, no link (was: a scratch directory with linked/written media and a JSONL record).
    The audio comes as bytes (decoded from memory), the video as a local file."""
    video, audio = clip(engine)
    question = Question(
        [("user", QUESTION)], {"video": Media(path=video), "audio": Media(data=audio.read_bytes(), suffix=".wav")}
    )
    expected = engine.answer([question], BUDGET)[0]["prediction"]
    written = []

    def refuse(name):
        def refused(*args, **kwargs):
            written.append((name, args))
            raise PermissionError(f"{name} during a request")

        return refused

    real_open = builtins.open

    def read_only_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            return refuse("open for writing")(file, mode)
        return real_open(file, mode, *args, **kwargs)

    for name in ("TemporaryDirectory", "NamedTemporaryFile", "mkdtemp", "mkstemp", "SpooledTemporaryFile"):
        monkeypatch.setattr(tempfile, name, refuse(f"tempfile.{name}"))
    monkeypatch.setattr(builtins, "open", read_only_open)
    monkeypatch.setattr(io, "open", read_only_open)
    for name in ("write_bytes", "write_text", "symlink_to", "mkdir", "touch"):
        monkeypatch.setattr(pathlib.Path, name, refuse(f"Path.{name}"))
    row = engine.answer([question], BUDGET)[0]
    assert written == [] and row.get("error") is None, (written, row)
    assert row["prediction"] == expected and row["prompt_tokens"] > 0


def test_infer_question_about_a_missing_file_is_an_error_row(engine, tmp_path):
    row = answer_question(engine.cfg, engine.tokenizer, engine.model, {"video": str(tmp_path / "nope.mp4")}, "?")
    assert row["error"] == "bad_question" and "media file not found" in row["detail"] and "nope.mp4" in row["detail"]
