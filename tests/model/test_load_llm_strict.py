"""load_llm reads a checkpoint strictly: transformers alone would fill a missing weight with a
random init and drop an unexpected one with a warning; here both are errors naming every key."""

import pytest
from safetensors.torch import load_file, save_file

from moka_train.config.sections.model import ModelConfig
from moka_train.encoders import CheckpointKeyError
from moka_train.model.build import load_llm
from moka_train.testing.llm import make_tiny_llm


def test_missing_and_unexpected_llm_keys_are_named(tmp_path):
    make_tiny_llm("llama", directory=tmp_path)
    load_llm(ModelConfig(llm_path=str(tmp_path), dtype="float32"))  # the intact checkpoint loads
    weights = load_file(tmp_path / "model.safetensors")
    weights["model.layers.0.mlp.surplus.weight"] = weights.pop("model.layers.1.self_attn.q_proj.weight")
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointKeyError) as err:
        load_llm(ModelConfig(llm_path=str(tmp_path), dtype="float32"))
    assert "missing keys ['model.layers.1.self_attn.q_proj.weight']" in str(err.value)
    assert "unexpected keys ['model.layers.0.mlp.surplus.weight']" in str(err.value)
