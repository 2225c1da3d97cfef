"""build_encoder: freezing, and errors that name the config key and the path."""

import pytest
import torch
from torch import nn

from moka_train.config.sections.model import EncoderConfig
from moka_train.encoders import MissingCheckpointError, build_encoder
from moka_train.testing.encoders import make_tiny_beats


@pytest.mark.parametrize("kind", ["clip_hf", "clip_open_clip", "beats", "whisper"])
def test_missing_checkpoint_names_config_key_and_path(tmp_path, kind):
    missing = tmp_path / f"absent-{kind}"
    cfg = EncoderConfig(type=kind, path=str(missing), model_name="ViT-L-14")
    with pytest.raises(MissingCheckpointError) as err:
        build_encoder(cfg, key="model.modalities[2].encoder")
    assert "model.modalities[2].encoder.path" in str(err.value) and str(missing) in str(err.value)


def test_frozen_encoder_has_no_grads_and_stays_in_eval(tmp_path):
    path = make_tiny_beats(tmp_path / "b.pt")
    encoder = build_encoder(EncoderConfig(type="beats", path=str(path)))
    parent = nn.ModuleDict({"enc": encoder, "head": nn.Linear(2, 2)})
    parent.train()
    assert not encoder.training and not any(m.training for m in encoder.modules())
    assert parent["head"].training
    assert all(not p.requires_grad for p in encoder.parameters())
    fbank = torch.randn(1, 98, 128)
    torch.testing.assert_close(encoder(fbank), encoder(fbank))  # dropout off: deterministic


def test_unfrozen_encoder_trains(tmp_path):
    path = make_tiny_beats(tmp_path / "b.pt")
    encoder = build_encoder(EncoderConfig(type="beats", path=str(path), frozen=False))
    encoder.train()
    assert encoder.training and all(p.requires_grad for p in encoder.parameters())
