"""A tiny workspace on disk (tokenizer + LLaMA, CLIP, BEATs, synthetic AV data), built once."""

from pathlib import Path

import pytest

from moka_train.testing.workspace import build_tiny_workspace


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> Path:
    return build_tiny_workspace(tmp_path_factory.mktemp("ws"), seed=0, num_av=32)
