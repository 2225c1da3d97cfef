"""The demo's log noise (issue 33): no pydantic serializer warning from the fine-tuning config,
no cross-attention temperature reported for an adapter that has none."""

import importlib.util
import logging
import warnings
from argparse import Namespace
from pathlib import Path

import pytest

from moka_train.config import dump_config

ROOT = Path(__file__).resolve().parents[2]


def load_demo():
    spec = importlib.util.spec_from_file_location("demo_script", ROOT / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_finetune_config_serialises_without_warnings(tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_ROOT", str(tmp_path))
    demo = load_demo()
    cfg = demo.finetune_config(tmp_path, "lora", Namespace(epochs=1, seed=0, overrides=[]), [tmp_path / "p"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the serializer warning is a UserWarning
        dump_config(cfg)
        cfg.model_dump(mode="json")


@pytest.fixture
def moka_log(caplog):
    logger = logging.getLogger("moka_train")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.mark.parametrize("method, reported", [("lora", False), ("moka_no_xattn", False), ("moka", True)])
def test_temperature_is_logged_only_for_cross_attention(workspace, monkeypatch, moka_log, method, reported):
    from moka_train.config import load_config
    from moka_train.data.tokenizer import load_tokenizer
    from moka_train.model.build import build_model

    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    cfg = load_config(ROOT / "configs" / "tiny_avqa.yaml", [f"adapter.method={method}"])
    build_model(cfg.model, load_tokenizer(cfg.model), cfg.adapter)
    lines = [r.getMessage() for r in moka_log.records if r.getMessage().startswith(f"adapter {method}")]
    assert len(lines) == 1 and ("cross-attention temperature" in lines[0]) == reported, lines
