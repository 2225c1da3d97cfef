"""The demo's log noise (issue 33): no pydantic serializer warning from the fine-tuning config,
no cross-attention temperature reported for an adapter that has none."""

import ast
import warnings
from pathlib import Path

import pytest

from moka_train.config import dump_config

ROOT = Path(__file__).resolve().parents[2]


TUPLE_FIELDS = {"stages", "init_from", "modalities", "targets"}  # typed tuple[...] in the schema


def list_updates(path: Path) -> list[str]:
    """``model_copy(update={"stages": [...]})``: a list where the schema has a tuple makes pydantic's
    serializer warn on every dump (the demo printed it on every run)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "model_copy":
            for kw in node.keywords:
                if kw.arg == "update" and isinstance(kw.value, ast.Dict):
                    for key, value in zip(kw.value.keys, kw.value.values):
                        if getattr(key, "value", None) in TUPLE_FIELDS and isinstance(value, ast.List | ast.ListComp):
                            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {key.value}")
    return found


def test_no_config_copy_puts_a_list_where_the_schema_has_a_tuple():
    files = [*(ROOT / "scripts").rglob("*.py"), *(ROOT / "moka_train").rglob("*.py")]
    assert [hit for path in files for hit in list_updates(path)] == []


def test_a_list_for_a_tuple_field_is_what_warns(tmp_path, monkeypatch):
    """The rule above is the cause: the demo's fine-tuning copy, with a tuple, dumps silently."""
    from moka_train.config import load_config

    monkeypatch.setenv("DEMO_ROOT", str(tmp_path))
    cfg = load_config(ROOT / "configs" / "tiny_avqa.yaml")
    stage = cfg.stages[-1].model_copy(update={"init_from": (str(tmp_path / "p"),)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dump_config(cfg.model_copy(update={"stages": [stage]}))
    assert any("serializer" in str(w.message).lower() for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dump_config(cfg.model_copy(update={"stages": (stage,)}))


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
