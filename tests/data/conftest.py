"""Shared fixtures for the data tests: real tiny tokenizers (one per chat style), modality specs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from moka_train.data.tokenize import add_placeholder_tokens
from moka_train.modality import build_modality_specs
from moka_train.testing.tokenizer import make_tiny_tokenizer

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # data_prep/ lives beside the package, not inside it
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def tokenizer_dirs(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for style in ("llama2", "llama3", "qwen2"):
        directory = tmp_path_factory.mktemp(f"tok_{style}")
        make_tiny_tokenizer(directory, style)
        out[style] = directory
    return out


@pytest.fixture
def specs():
    return build_modality_specs([("video", "<video>", 6), ("audio", "<audio>", 4), ("image", "<image>", 5)])


@pytest.fixture
def load_tokenizer(tokenizer_dirs, specs):
    """A fresh tokenizer (from disk, through AutoTokenizer) with the placeholders added."""

    def load(style: str):
        tok = AutoTokenizer.from_pretrained(tokenizer_dirs[style])
        add_placeholder_tokens(tok, specs)
        return tok

    return load


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A small synthetic data root (real mp4/wav/png) shared by the dataset tests; read-only."""
    from moka_train.testing.synthetic import make_synthetic

    root = tmp_path_factory.mktemp("synthetic")
    make_synthetic(root, seed=0, num_av=6, num_image=4, num_speech=4, frames=24, size=32, fps=8)
    return root
