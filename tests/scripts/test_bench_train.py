"""scripts/bench_train.py's runs: the cached and the decoding run train the same thing, and the
frozen encoders keep nothing for backward; the paper-media overrides make a valid recipe."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(SCRIPTS))  # bench_train imports bench_gpu as its sibling
    spec = importlib.util.spec_from_file_location("bench_train", SCRIPTS / "bench_train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.path.remove(str(SCRIPTS))


def test_frozen_encoders_keep_no_activations_and_the_cache_changes_no_batch(bench, workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    cache = bench.fill_cache(tmp_path / "cache", [])
    decoding, cached = bench.Run("lora", None, []), bench.Run("lora", cache, [])
    batch_decoded, batch_cached = decoding.next_batch(), cached.next_batch()
    assert set(batch_cached["features"]) == set(batch_decoded["media"]) == {"video", "audio"}
    assert not batch_cached["media"] and not batch_decoded["features"]  # each run took its own path
    assert batch_cached["ids"] == batch_decoded["ids"]  # the same samples in the same order
    # CLIP and BEATs run on every decoded batch; were any of their weights left trainable, their
    # activations would be kept for backward and the decoding run would hold more than the cached one
    saved_decoding = bench.saved_activation_mb(lambda: decoding.step(batch_decoded))
    saved_cached = bench.saved_activation_mb(lambda: cached.step(batch_cached))
    assert saved_decoding == pytest.approx(saved_cached, rel=0.01)


def test_paper_media_overrides_sample_as_the_paper(monkeypatch, tmp_path):
    from moka_train.config import load_config
    from moka_train.testing.workspace import PAPER_MEDIA_OVERRIDES

    monkeypatch.setenv("DEMO_ROOT", str(tmp_path))
    cfg = load_config(SCRIPTS.parent / "configs" / "tiny_avqa.yaml", PAPER_MEDIA_OVERRIDES)
    video, audio = cfg.model.modalities
    assert (video.frames, audio.frames, audio.segment_seconds) == (10, 10, 1.0)
    assert (cfg.data.video_frames, cfg.data.image_size) == (10, 224)
    assert video.encoder.path == f"{tmp_path}/clip"
