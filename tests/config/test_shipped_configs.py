"""Every shipped recipe loads and validates (so none rots), and the grid is one key away."""

import os
from pathlib import Path

import pytest
import yaml

from moka_train.config import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
RECIPES = sorted(p for p in CONFIGS.glob("*.yaml"))


@pytest.fixture(autouse=True)
def roots(monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_ROOT", str(tmp_path / "models"))
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("DEMO_ROOT", str(tmp_path / "demo"))


def test_there_are_recipes_for_every_scenario_and_backbone():
    names = {p.stem for p in RECIPES}
    for scenario in ("avqa", "ave", "visual", "speech"):
        for backbone in ("llama2", "llama3", "qwen2"):
            assert f"{scenario}_{backbone}" in names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_loads(path):
    cfg = load_config(path)
    # a scenario recipe ends fine-tuning; a pretrain_<backbone> recipe is stage 1 alone (its exports start them)
    assert cfg.stages and cfg.stages[-1].kind == (
        "pretrain_projector" if path.stem.startswith("pretrain_") else "moka_finetune"
    )
    names = [s.name for s in cfg.stages]
    for stage in cfg.stages:
        # an earlier stage, or an export directory given by path (an import)
        assert all(names.index(e) < names.index(stage.name) for e in stage.init_from if e in names)
        assert all("/" in e for e in stage.init_from if e not in names)
    roots = (os.environ["MODEL_ROOT"], os.environ["DEMO_ROOT"])  # interpolated, never hard-coded
    assert cfg.model.llm_path.startswith(roots)
    assert all(m.encoder.path.startswith(roots) for m in cfg.model.modalities)


def test_headline_recipe_matches_the_paper():
    cfg = load_config(CONFIGS / "avqa_llama3.yaml")
    assert (cfg.adapter.rank, cfg.adapter.alpha, cfg.adapter.dropout, cfg.adapter.xattn_weight) == (4, 16, 0.05, 1.0)
    assert [m.name for m in cfg.model.modalities] == ["video", "audio"]
    assert all(m.frames == 10 and m.projector.num_queries == 32 for m in cfg.model.modalities)
    assert cfg.train.deepspeed.zero_stage == 2 and cfg.train.deepspeed.precision == "bf16"
    assert cfg.data.template == "chat" and cfg.stages[-1].epochs == 3


def test_visual_recipe_uses_small_lambda_and_split_turns():
    cfg = load_config(CONFIGS / "visual_llama2.yaml")
    assert cfg.adapter.xattn_weight == 0.05 and cfg.data.multi_turn == "split" and cfg.data.template == "chat"


def test_method_is_one_override_away():
    cfg = load_config(CONFIGS / "avqa_llama2.yaml", ["adapter.method=lora"])
    assert cfg.adapter.method == "lora" and cfg.adapter.rank == 4


SCENARIOS = ("avqa", "ave", "visual", "speech")


def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_scenario_is_written_once_and_each_backbone_recipe_only_picks_its_backbone(scenario):
    # the scenario's data, adapter and stages live in base/scenario_<name>.yaml; a backbone recipe
    # names that base and its backbone's base, plus what truly differs (Qwen2.5-VL's own video path)
    recipes = [p for p in RECIPES if p.stem.startswith(f"{scenario}_") and not p.stem.endswith("_official")]
    assert len(recipes) >= 5
    for path in recipes:
        raw = _raw(path)
        assert raw["base"][0] == f"base/scenario_{scenario}.yaml", path.name
        assert raw["base"][1].startswith("base/llm_"), path.name
        own = set(raw) - {"base", "output_dir"}
        assert own == ({"model", "stages"} if path.stem.endswith("_qwen25vl") else set()), path.name
        assert path.read_text().splitlines()[0].startswith("# "), path.name  # its launch line stays first
    assert "stages" in _raw(CONFIGS / "base" / f"scenario_{scenario}.yaml")
