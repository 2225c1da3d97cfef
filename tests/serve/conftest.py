"""The in-process server tests' engine (the tiny export's) and their official `openai` client, on
each module's own `http` fixture (Starlette's TestClient over the app under test)."""

import openai
import pytest
from eval_run.tiny_export import build_export

from moka_train.serve.engine import AnswerEngine


@pytest.fixture(scope="module")
def engine(workspace, tmp_path_factory):
    cfg, export, _ = build_export(workspace, tmp_path_factory.mktemp("export"))
    return AnswerEngine(cfg, export)


@pytest.fixture(scope="module")
def client(http):
    return openai.OpenAI(base_url="http://testserver/v1", api_key="unused", max_retries=0, http_client=http)
