"""BEATs: official checkpoint format and key names, strict loading, round trip, position buckets."""

import math

import pytest
import torch

from moka_train.config.sections.model import EncoderConfig
from moka_train.encoders import CheckpointKeyError, build_encoder
from moka_train.encoders.beats import beats_fbank, beats_from_checkpoint
from moka_train.encoders.beats.model import relative_position_buckets
from moka_train.testing.encoders import TINY_BEATS_CFG, make_tiny_beats, tiny_beats_model


def _official_keys(layers: int) -> set[str]:
    """Key names of an official BEATs iter3+ (AS2M fine-tuned) ``model`` state dict, written out
    from the published architecture (fairseq naming, weight-normed pos conv, shared bias table)."""
    keys = {
        "patch_embedding.weight",
        "layer_norm.weight",
        "layer_norm.bias",
        "post_extract_proj.weight",
        "post_extract_proj.bias",
        "encoder.pos_conv.0.bias",
        "encoder.pos_conv.0.weight_g",
        "encoder.pos_conv.0.weight_v",
        "encoder.layer_norm.weight",
        "encoder.layer_norm.bias",
        "predictor.weight",
        "predictor.bias",
    }
    for i in range(layers):
        p = f"encoder.layers.{i}."
        for lin in (
            "self_attn.q_proj",
            "self_attn.k_proj",
            "self_attn.v_proj",
            "self_attn.out_proj",
            "self_attn.grep_linear",
            "fc1",
            "fc2",
            "self_attn_layer_norm",
            "final_layer_norm",
        ):
            keys |= {p + lin + ".weight", p + lin + ".bias"}
        keys |= {p + "self_attn.grep_a", p + "self_attn.relative_attention_bias.weight"}
    return keys


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    return make_tiny_beats(tmp_path_factory.mktemp("beats") / "beats.pt", seed=3)


def _load(path):
    return torch.load(path, weights_only=True)


def test_checkpoint_uses_the_official_format_and_key_names(checkpoint_path):
    checkpoint = _load(checkpoint_path)
    assert set(checkpoint) == {"cfg", "model"}
    assert checkpoint["cfg"]["deep_norm"] and checkpoint["cfg"]["gru_rel_pos"]
    assert set(checkpoint["model"]) == _official_keys(TINY_BEATS_CFG["encoder_layers"])


def test_round_trip_gives_identical_features(checkpoint_path):
    reference, _ = tiny_beats_model(seed=3)
    encoder = build_encoder(EncoderConfig(type="beats", path=str(checkpoint_path)))
    fbank = beats_fbank(torch.randn(2, 16000, generator=torch.Generator().manual_seed(0)) * 0.1)
    with torch.no_grad():
        expected, got = reference(fbank), encoder(fbank)
    # 98 fbank frames -> 6 time patches x 8 frequency patches
    assert got.shape == (2, 48, 32) == (2, encoder.num_tokens(1.0), encoder.output_dim)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_every_layer_reads_the_shared_bias_table(checkpoint_path):
    """The table is stored under each layer's name but is one module: layer 0's copy is used."""
    model = beats_from_checkpoint(_load(checkpoint_path))
    tables = {id(layer.self_attn.relative_attention_bias) for layer in model.encoder.layers}
    assert len(tables) == 1
    fbank = torch.randn(1, 98, 128)
    with torch.no_grad():
        before = model(fbank)
        model.encoder.layers[0].self_attn.relative_attention_bias.weight.mul_(3.0)
        assert not torch.allclose(model(fbank), before)


@pytest.mark.parametrize(
    "key", ["encoder.layers.1.self_attn.grep_a", "encoder.pos_conv.0.weight_g", "post_extract_proj.weight"]
)
def test_missing_key_is_rejected_by_name(checkpoint_path, key):
    checkpoint = _load(checkpoint_path)
    del checkpoint["model"][key]
    with pytest.raises(CheckpointKeyError, match=f"missing keys.*{key.replace('.', '[.]')}"):
        beats_from_checkpoint(checkpoint)


def test_unexpected_key_is_rejected_by_name(checkpoint_path):
    checkpoint = _load(checkpoint_path)
    checkpoint["model"]["encoder.layers.0.self_attn.extra_gate"] = torch.zeros(1)
    with pytest.raises(CheckpointKeyError, match="unexpected keys.*extra_gate"):
        beats_from_checkpoint(checkpoint)


def test_finetuned_cfg_without_classifier_is_rejected(checkpoint_path):
    checkpoint = _load(checkpoint_path)
    del checkpoint["model"]["predictor.bias"]
    with pytest.raises(ValueError, match="classifier"):
        beats_from_checkpoint(checkpoint)


def test_gate_and_deep_norm_shape_the_features(checkpoint_path):
    """A loader that ignored gru_rel_pos or deep_norm would give the same features either way."""
    checkpoint = _load(checkpoint_path)
    fbank = torch.randn(1, 98, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        base = beats_from_checkpoint(checkpoint).eval()(fbank)
        for flag in ("deep_norm", "gru_rel_pos"):
            variant = {**checkpoint, "cfg": {**checkpoint["cfg"], flag: False}}
            if flag == "gru_rel_pos":  # without the gate its parameters do not exist
                variant["model"] = {k: v for k, v in checkpoint["model"].items() if "grep" not in k}
            assert not torch.allclose(beats_from_checkpoint(variant).eval()(fbank), base)


def _t5_bucket(offset: int, num_buckets: int, max_distance: int) -> int:
    """The bidirectional T5 bucket of one ``key - query`` offset, written scalar-wise."""
    half = num_buckets // 2
    bucket = half if offset > 0 else 0
    distance = abs(offset)
    exact = half // 2
    if distance < exact:
        return bucket + distance
    scaled = exact + int(math.log(distance / exact) / math.log(max_distance / exact) * (half - exact))
    return bucket + min(scaled, half - 1)


def test_relative_position_buckets_follow_t5_with_beats_sizes():
    length = 300
    buckets = relative_position_buckets(length, num_buckets=320, max_distance=800)
    for query, key in [(0, 0), (5, 6), (6, 5), (0, 79), (79, 0), (0, 80), (0, 81), (10, 250), (299, 0)]:
        assert buckets[query, key] == _t5_bucket(key - query, 320, 800), (query, key)
    assert buckets.min() == 0 and buckets.max() < 320


def test_missing_checkpoint_names_key_and_path(tmp_path):
    missing = tmp_path / "nope" / "BEATs_iter3_plus_AS2M.pt"
    with pytest.raises(FileNotFoundError, match=r"model\.modalities\[1\]\.encoder\.path.*BEATs_iter3_plus_AS2M\.pt"):
        build_encoder(EncoderConfig(type="beats", path=str(missing)), key="model.modalities[1].encoder")
