"""train.global_batch_size: grad_accum derived from the world size, refused by name when it cannot be."""

from pathlib import Path

import pytest

from moka_train.config import ConfigError, load_config
from moka_train.config.batch import grad_accum_for, with_world_size
from moka_train.config.schema import TrainConfig

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "avqa_llama2.yaml"


@pytest.fixture(autouse=True)
def roots(monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_ROOT", str(tmp_path / "models"))
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))


def test_grad_accum_is_global_over_world_times_micro():
    train = TrainConfig(micro_batch_size=4, global_batch_size=32)
    assert [grad_accum_for(train, world) for world in (1, 2, 4, 8)] == [8, 4, 2, 1]
    assert grad_accum_for(TrainConfig(micro_batch_size=4, grad_accum=3), 8) == 3  # unset: grad_accum as given


def test_a_global_batch_that_does_not_divide_is_refused_by_name():
    with pytest.raises(ConfigError) as err:
        grad_accum_for(TrainConfig(micro_batch_size=4, global_batch_size=32), 3)
    message = str(err.value)
    assert "train.global_batch_size=32" in message and "world size 3" in message
    assert "train.micro_batch_size 4" in message and "12" in message  # what has to divide it


def test_a_grad_accum_that_disagrees_is_refused_one_that_agrees_is_kept():
    train = TrainConfig(micro_batch_size=4, grad_accum=4, global_batch_size=32)
    assert grad_accum_for(train, 2) == 4
    with pytest.raises(ConfigError, match=r"train.global_batch_size=32 and train.grad_accum=4 disagree.*grad_accum 8"):
        grad_accum_for(train, 1)


def test_no_world_size_can_fix_is_refused_at_load():
    with pytest.raises(ConfigError, match="train.global_batch_size"):
        load_config(RECIPE, ["train.global_batch_size=30"])  # not a multiple of micro-batch 4
    with pytest.raises(ConfigError, match="train.grad_accum 3"):
        load_config(RECIPE, ["train.grad_accum=3"])  # 32 is no multiple of 4 × 3


def test_train_start_trains_with_the_derived_grad_accum():
    cfg = load_config(RECIPE)
    assert with_world_size(cfg, 1).train.grad_accum == 8
    assert with_world_size(cfg, 8).train.grad_accum == 1
    assert with_world_size(cfg, 1).train.global_batch_size == 32  # the pin stays in the written config
