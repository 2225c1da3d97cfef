"""The tiny-recipe training benchmark (``moka_train.bench.recipe``, run by scripts/bench_train.py):
the cached and the decoding run train the same thing, and the frozen encoders keep nothing for
backward; the paper-media overrides make a valid recipe."""

from pathlib import Path

import pytest

from moka_train.bench.llama_train import saved_activation_mb
from moka_train.bench.recipe import Run, TrainBench, fill_cache

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"


def test_frozen_encoders_keep_no_activations_and_the_cache_changes_no_batch(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    cache = fill_cache(RECIPE, tmp_path / "cache", [])
    decoding, cached = Run(RECIPE, "lora", None, []), Run(RECIPE, "lora", cache, [])
    batch_decoded, batch_cached = decoding.next_batch(), cached.next_batch()
    assert set(batch_cached["features"]) == set(batch_decoded["media"]) == {"video", "audio"}
    assert not batch_cached["media"] and not batch_decoded["features"]  # each run took its own path
    assert batch_cached["ids"] == batch_decoded["ids"]  # the same samples in the same order
    # CLIP and BEATs run on every decoded batch; were any of their weights left trainable, their
    # activations would be kept for backward and the decoding run would hold more than the cached one
    saved_decoding = saved_activation_mb(lambda: decoding.step(batch_decoded))
    saved_cached = saved_activation_mb(lambda: cached.step(batch_cached))
    assert saved_decoding == pytest.approx(saved_cached, rel=0.01)


def test_lora_is_always_measured_as_the_reference_of_every_ratio():
    assert TrainBench(methods=("moka", "wander")).methods == ("lora", "moka", "wander")
    assert TrainBench(methods=("moka", "lora")).methods == ("moka", "lora")


def test_paper_media_overrides_sample_as_the_paper(monkeypatch, tmp_path):
    from moka_train.config import load_config
    from moka_train.testing.workspace import PAPER_MEDIA_OVERRIDES

    monkeypatch.setenv("DEMO_ROOT", str(tmp_path))
    cfg = load_config(RECIPE, PAPER_MEDIA_OVERRIDES)
    video, audio = cfg.model.modalities
    assert (video.frames, audio.frames, audio.segment_seconds) == (10, 10, 1.0)
    assert (cfg.data.video_frames, cfg.data.image_size) == (10, 224)
    assert video.encoder.path == f"{tmp_path}/clip"
