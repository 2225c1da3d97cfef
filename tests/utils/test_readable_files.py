"""Weights and cached features are readable like any other file the process writes: safetensors'
save_file creates its file 0600 whatever the umask, so an export served by another user, or a
feature cache shared by a team, was private to its writer."""

import os
import stat

import pytest
import torch

from moka_train.data.feature_cache import FeatureCache
from moka_train.utils.weights_format import write_weights


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield 0o644
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_exported_weights_follow_the_umask(tmp_path, umask_022):
    out = write_weights(tmp_path / "export", {"projector.audio": {"w": torch.ones(2, 2)}}, {"stage": "s"})
    assert {p.name: mode(p) for p in out.iterdir()} == {
        "projector.audio.safetensors": umask_022,
        "manifest.json": umask_022,
    }


def test_a_stricter_umask_is_kept(tmp_path):
    old = os.umask(0o077)
    try:
        out = write_weights(tmp_path / "export", {"adapter": {"w": torch.ones(1)}}, {})
    finally:
        os.umask(old)
    assert mode(out / "adapter.safetensors") == 0o600


def test_cached_features_follow_the_umask(tmp_path, umask_022):
    media = tmp_path / "clip.wav"
    media.write_bytes(b"RIFF....")
    cache = FeatureCache(tmp_path / "cache", {"audio": "identity"})
    assert mode(cache.store("audio", media, torch.zeros(3, 4))) == umask_022
