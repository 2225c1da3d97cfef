"""Config loading: composition, overrides, ${VAR}, and error messages that point at the bad key."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from moka_train.config import ConfigError, dump_config, load_config

BASE = {
    "model": {"llm_path": "${MODEL_ROOT}/llm", "dtype": "float32"},
    "data": {"root": "${DATA_ROOT:-/tmp/data}", "template": "llama3"},
    "adapter": {"method": "moka", "rank": 4},
    "stages": [
        {"name": "s1", "kind": "pretrain_projector", "modalities": ["video"]},
        {"name": "s2", "kind": "moka_finetune", "init_from": "s1"},
    ],
}


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_ROOT", "/models")
    write(tmp_path / "base.yaml", BASE)
    return write(tmp_path / "recipe.yaml", {"base": "base.yaml", "adapter": {"rank": 8}, "train": {"seed": 7}})


def test_composition_file_overrides_base_and_keeps_siblings(recipe):
    cfg = load_config(recipe)
    assert cfg.adapter.rank == 8  # from the recipe
    assert cfg.adapter.method == "moka"  # kept from the base
    assert cfg.train.seed == 7


def test_composition_order_later_base_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_ROOT", "/m")
    write(tmp_path / "a.yaml", BASE)
    write(tmp_path / "b.yaml", {"adapter": {"rank": 2, "alpha": 3.0}})
    path = write(tmp_path / "r.yaml", {"base": ["a.yaml", "b.yaml"], "adapter": {"alpha": 5.0}})
    cfg = load_config(path)
    assert (cfg.adapter.rank, cfg.adapter.alpha) == (2, 5.0)


def test_a_base_with_its_own_bases_resolves_them_beside_itself_and_a_later_list_replaces_whole(tmp_path, monkeypatch):
    # the shipped layout: configs/base/scenario_x.yaml names train/modality bases in configs/base/,
    # a recipe in configs/ names the scenario; a later `stages:` replaces the list, never merges items
    monkeypatch.setenv("MODEL_ROOT", "/m")
    (tmp_path / "base").mkdir()
    write(tmp_path / "base" / "common.yaml", BASE)
    write(tmp_path / "base" / "scenario.yaml", {"base": ["common.yaml"], "adapter": {"rank": 2}})
    write(tmp_path / "base" / "backbone.yaml", {"data": {"template": "chat"}})
    one_stage = [{"name": "only", "kind": "moka_finetune"}]
    path = write(tmp_path / "r.yaml", {"base": ["base/scenario.yaml", "base/backbone.yaml"], "stages": one_stage})
    cfg = load_config(path)
    assert (cfg.adapter.rank, cfg.adapter.method, cfg.data.template) == (2, "moka", "chat")
    assert [s.name for s in cfg.stages] == ["only"]
    assert cfg.data.root == "/tmp/data"  # the innermost base's key survives two levels of composition


def test_nested_and_indexed_overrides_are_typed(recipe):
    cfg = load_config(
        recipe,
        [
            "adapter.xattn_weight=0.05",
            "stages.1.epochs=3",
            "stages[0].name=proj",
            "train.deepspeed.zero_stage=3",
            "model.modalities=[]",
        ],
    )
    assert cfg.adapter.xattn_weight == 0.05
    assert cfg.stages[1].epochs == 3.0 and cfg.stages[0].name == "proj"
    assert cfg.train.deepspeed.zero_stage == 3


def test_env_interpolation_and_default(recipe):
    cfg = load_config(recipe)
    assert cfg.model.llm_path == "/models/llm"
    assert cfg.data.root == "/tmp/data"


def test_missing_env_var_names_key(recipe, monkeypatch):
    monkeypatch.delenv("MODEL_ROOT")
    with pytest.raises(ConfigError, match=r"model\.llm_path.*MODEL_ROOT"):
        load_config(recipe)


def test_unknown_key_names_key_file_and_suggestion(recipe):
    recipe.write_text(yaml.safe_dump({"base": "base.yaml", "adapter": {"rnak": 8}}))
    with pytest.raises(ConfigError) as err:
        load_config(recipe)
    msg = str(err.value)
    assert "adapter.rnak" in msg and str(recipe) in msg and "adapter.rank" in msg


def test_unknown_key_in_list_item_from_command_line(recipe):
    with pytest.raises(ConfigError) as err:
        load_config(recipe, ["stages.0.init_frm=x"])
    msg = str(err.value)
    assert "stages.0.init_frm" in msg and "command line" in msg and "init_from" in msg


def test_type_error_names_key_expected_and_given(recipe):
    with pytest.raises(ConfigError) as err:
        load_config(recipe, ["adapter.rank=four"])
    msg = str(err.value)
    assert "adapter.rank" in msg and "integer" in msg and "'four'" in msg


def test_literal_error_lists_allowed_values(recipe):
    with pytest.raises(ConfigError, match=r"data\.template.*'llama2'.*given 'vicuna'"):
        load_config(recipe, ["data.template=vicuna"])


def test_validate_output_round_trips(recipe, tmp_path):
    cfg = load_config(recipe, ["adapter.alpha=32"])
    again = load_config(write(tmp_path / "dumped.yaml", yaml.safe_load(dump_config(cfg))))
    assert again == cfg


def test_config_is_frozen(recipe):
    cfg = load_config(recipe)
    with pytest.raises(ValidationError):
        cfg.adapter.rank = 2


def test_empty_env_var_names_key_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from moka_train.cli import main

    monkeypatch.setenv("DEMO_ROOT", "")
    monkeypatch.chdir(tmp_path)  # `/run` would be absolute; anything relative would land here
    config = write(tmp_path / "c.yaml", {**BASE, "model": {"llm_path": "/m"}, "output_dir": "${DEMO_ROOT}/run"})
    with pytest.raises(ConfigError, match=r"output_dir: environment variable \$\{DEMO_ROOT\} is set but empty"):
        load_config(config)
    assert main(["train", "--config", str(config)]) == 2
    assert "error: output_dir: environment variable ${DEMO_ROOT} is set but empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_empty_env_var_takes_the_default_like_the_shell(recipe, monkeypatch):
    monkeypatch.setenv("DATA_ROOT", "")
    assert load_config(recipe).data.root == "/tmp/data"


def test_yaml_syntax_error_is_a_config_error_with_file_line_column(tmp_path, capsys):
    from moka_train.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  llm_path: /m\ndata: {root: /d\ntrain:\n  seed: 1\n")  # unclosed flow mapping
    assert main(["validate", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}:4:") and "YAML syntax error" in err, err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_yaml_syntax_error_in_a_base_file_names_that_file(tmp_path):
    (tmp_path / "base.yaml").write_text("train:\n  seed: [1\n")
    write(tmp_path / "recipe.yaml", {"base": "base.yaml"})
    with pytest.raises(ConfigError, match=rf"{tmp_path / 'base.yaml'}:\d+:\d+: YAML syntax error"):
        load_config(tmp_path / "recipe.yaml")


def test_override_that_is_not_yaml_is_a_config_error(recipe):
    with pytest.raises(ConfigError, match=r"override 'stages=\[\{name: s1': the value is not valid YAML"):
        load_config(recipe, ["stages=[{name: s1"])


def test_adapter_options_take_a_per_modality_table(recipe):
    """Wander's documented per-slot ``max_tokens`` is a table; the schema must accept it."""
    cfg = load_config(recipe, ["adapter.options={max_tokens: {text: 64, video: 320}, width: 8}"])
    assert cfg.adapter.options == {"max_tokens": {"text": 64, "video": 320}, "width": 8}


def test_a_bad_value_from_the_command_line_is_blamed_on_the_command_line(recipe):
    with pytest.raises(ConfigError) as err:
        load_config(recipe, ["adapter.options={max_tokens: [1, 2]}"])
    msg = str(err.value)
    assert "adapter.options.max_tokens" in msg and "command line" in msg and str(recipe) not in msg
