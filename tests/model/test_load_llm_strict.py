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


def test_a_vision_language_backbone_loads_through_its_auto_class_as_strictly(tmp_path):
    """model.backbone: qwen2_5_vl loads through the same load_llm (config/backbones.py names the
    Auto class): a vision-tower weight missing from its checkpoint is named too, not random-filled."""
    from moka_train.testing.vlm import make_tiny_qwen25vl

    make_tiny_qwen25vl(tmp_path, seed=0)
    cfg = ModelConfig.model_construct(llm_path=str(tmp_path), dtype="float32", backbone="qwen2_5_vl")
    assert type(load_llm(cfg)).__name__ == "Qwen2_5_VLForConditionalGeneration"  # the intact one loads
    weights = load_file(tmp_path / "model.safetensors")
    dropped = next(k for k in sorted(weights) if "visual" in k and k.endswith("weight"))
    del weights[dropped]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointKeyError, match=r"missing keys \[[^]]*visual[^]]*\], unexpected keys none"):
        load_llm(cfg)
