"""The frozen-encoder feature cache: same loss as decoding, mixed batches, and stale or corrupt
entries reported and recomputed, never used."""

import os
from pathlib import Path

import pytest
import torch

from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.dataset import build_dataset
from moka_train.data.feature_cache import cache_for, file_sha256
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.train.feature_cache_writer import fill_feature_cache

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"


@pytest.fixture(scope="module")
def setup(workspace, tmp_path_factory):
    os.environ["DEMO_ROOT"] = str(workspace)
    cache_dir = tmp_path_factory.mktemp("cache")
    cfg = load_config(CONFIG, [f"data.feature_cache={cache_dir}"])
    counts = fill_feature_cache(cfg)  # every stage's file and the eval file: the same 32 clips
    assert counts == {"written": 64}  # 32 x (video + audio), each once (not "already cached" when met again)
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer, cfg.adapter).eval()
    return cfg, tokenizer, model


def loss_of(cfg, tokenizer, model, cached: bool, data_cfg=None, n=4):
    data_cfg = data_cfg or cfg.data
    specs = [b.spec for b in model.branches]
    cache = cache_for(cfg.model.modalities, data_cfg) if cached else None
    dataset = build_dataset(data_cfg, tokenizer, specs, cache=cache)
    batch = Collator(tokenizer.pad_token_id)([dataset[i] for i in range(n)])
    with torch.no_grad():
        return model(batch)["loss"], batch, cache


def test_a_second_fill_finds_every_file_already_cached(setup):
    cfg, _, _ = setup
    assert fill_feature_cache(cfg) == {"already_cached": 64}


def test_cached_features_give_the_decoded_loss(setup):
    cfg, tokenizer, model = setup
    decoded, raw_batch, _ = loss_of(*setup, cached=False)
    cached, batch, cache = loss_of(*setup, cached=True)
    assert raw_batch["features"] == {} and batch["media"] == {}  # really decoded vs. really cached
    assert cache.stats.hits == 8 and cache.stats.misses == 0
    assert torch.allclose(cached, decoded, rtol=1e-6, atol=1e-7)


def test_a_batch_mixing_cached_and_decoded_items_keeps_row_order(setup):
    cfg, tokenizer, model = setup
    decoded, _, _ = loss_of(*setup, cached=False)
    entry = cache_for(cfg.model.modalities, cfg.data)
    sample_video = Path(cfg.data.root) / "video" / "av_00001.mp4"  # row 1 of the batch
    entry_path = entry.entry_path("video", file_sha256(sample_video))
    saved = entry_path.read_bytes()
    entry_path.unlink()
    try:
        mixed, batch, cache = loss_of(*setup, cached=True)
        assert batch["media_index"]["video"].tolist() == [1] and batch["features_index"]["video"].tolist() == [0, 2, 3]
        assert torch.allclose(mixed, decoded, rtol=1e-6, atol=1e-7)
    finally:
        entry_path.write_bytes(saved)


def test_corrupt_entry_is_reported_deleted_and_recomputed(setup):
    cfg, tokenizer, model = setup
    decoded, _, _ = loss_of(*setup, cached=False)
    probe = cache_for(cfg.model.modalities, cfg.data)
    path = probe.entry_path("audio", file_sha256(Path(cfg.data.root) / "audio" / "av_00000.wav"))
    good = path.read_bytes()
    path.write_bytes(good[:-40] + bytes(40))  # flip the tail of the tensor bytes
    try:
        loss, batch, cache = loss_of(*setup, cached=True)
        assert [r["reason"] for r in cache.stats.rejected] == ["corrupt (checksum mismatch)"]
        assert not path.exists() and batch["media_index"]["audio"].tolist() == [0]
        assert torch.allclose(loss, decoded, rtol=1e-6, atol=1e-7)
    finally:
        path.write_bytes(good)


def test_another_encoder_configuration_never_reads_the_entries(setup):
    cfg, tokenizer, model = setup
    other = cfg.data.model_copy(update={"image_size": 30})  # preprocessing changed
    _, batch, cache = loss_of(*setup, cached=True, data_cfg=other)
    assert cache.stats.hits == 0 and batch["features"] == {}
    assert any(r["reason"].startswith("stale") for r in cache.stats.rejected)
