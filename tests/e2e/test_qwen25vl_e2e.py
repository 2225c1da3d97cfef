"""Qwen2.5-VL end to end through the real CLI: stage 1 trains the audio projector (the video has the
model's own frozen vision path, no projector), stage 2 MokA on the language model, exports; the
export loads back and batched left-padded generation equals per-sample generation."""

import pytest
import torch
from e2e_helpers import export_roles, finetuned_adapter, losses, run_cli, zero3_one_modality_per_rank
from export_generation import exported_model, generate_batched_and_alone

from moka_train.testing.vlm import make_tiny_qwen25vl, tiny_qwen25vl_overrides


@pytest.fixture(scope="module")
def vlm_run(workspace, tmp_path_factory):
    root = tmp_path_factory.mktemp("qwen25vl")
    make_tiny_qwen25vl(root / "llm", seed=0)
    overrides = tiny_qwen25vl_overrides(root / "llm")
    out = root / "run"
    run_cli(workspace, [f"output_dir={out}", *overrides, "stages.1.epochs=6"])
    return workspace, out, overrides


def test_qwen25vl_trains_the_audio_projector_then_moka_and_exports(vlm_run):
    _, out, _ = vlm_run
    assert len(losses(out, "pretrain_audio")) == 8  # 32 samples / batch 4
    assert export_roles(out, "pretrain_audio") == ["embeddings", "projector.audio"]
    adapter = finetuned_adapter(out, ["adapter", "embeddings", "projector.audio"])
    assert all(k.startswith("llm.model.language_model.layers.") for k in adapter)


def test_qwen25vl_export_generates_the_same_batched_and_alone(vlm_run, monkeypatch):
    cfg, tokenizer, model, roles = exported_model(*vlm_run, monkeypatch)
    assert roles == ["adapter", "embeddings", "projector.audio"]
    _, together, alone = generate_batched_and_alone(cfg, tokenizer, model)
    assert torch.equal(together, alone)


def test_zero3_two_ranks_each_missing_a_modality(vlm_run, tmp_path):
    """ZeRO-3 on two ranks, one video-only and one audio-only sample: every step one rank has no
    video (its vision tower runs on a dummy) and the other no audio; neither waits for ever."""
    workspace, _, overrides = vlm_run
    stage = "stages=[{name: ft, kind: moka_finetune, epochs: 2}]"
    out = zero3_one_modality_per_rank(workspace, tmp_path, *overrides, stage)
    assert sorted(losses(out, "ft")) == [1, 2]
    assert export_roles(out, "ft") == ["adapter", "embeddings", "projector.audio"]
