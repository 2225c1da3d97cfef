"""Qwen2.5-VL end to end through the real CLI: stage 1 trains the audio projector (the video has the
model's own frozen vision path, no projector), stage 2 MokA on the language model, exports; the
export loads back and batched left-padded generation equals per-sample generation."""

import json

import pytest
import torch
from e2e_helpers import DEMO_CONFIG, losses, run_cli, single_modality_pair
from safetensors.torch import load_file
from torch.utils.data import DataLoader, Subset

from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.dataset import MultimodalDataset
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.model.export import load_export
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
    stage1 = json.loads((out / "export" / "pretrain_audio" / "manifest.json").read_text())["files"].values()
    assert sorted(e["role"] for e in stage1) == ["embeddings", "projector.audio"]
    ft = list(losses(out, "finetune").values())
    assert len(ft) == 48
    early, late = sum(ft[:5]) / 5, sum(ft[-8:]) / 8
    assert late < early - 1.0, (early, late)
    manifest = json.loads((out / "export" / "finetune" / "manifest.json").read_text())["files"].values()
    assert sorted(e["role"] for e in manifest) == ["adapter", "embeddings", "projector.audio"]
    adapter = load_file(str(out / "export" / "finetune" / "adapter.safetensors"))
    assert adapter and all(k.startswith("llm.model.language_model.layers.") for k in adapter)
    assert all(adapter[k].abs().sum() > 0 for k in adapter if "lora_B" in k)


def _batches(cfg, tokenizer, model, batch_size, n=6):
    data = MultimodalDataset.from_file(
        cfg.data.train_file, cfg.data, tokenizer, [b.spec for b in model.branches], generation=True
    )
    return list(
        DataLoader(
            Subset(data, list(range(n))), batch_size=batch_size, collate_fn=Collator(tokenizer.pad_token_id, "left")
        )
    )


def test_qwen25vl_export_generates_the_same_batched_and_alone(vlm_run, monkeypatch):
    workspace, out, overrides = vlm_run
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    cfg = load_config(DEMO_CONFIG, overrides)
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer, cfg.adapter).eval()
    assert sorted(load_export(model, out / "export" / "finetune")) == ["adapter", "embeddings", "projector.audio"]
    kwargs = dict(max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=None)
    batched = _batches(cfg, tokenizer, model, 6)[0]
    assert (batched["attention_mask"] == 0).any()
    together = model.generate(batched, **kwargs)
    alone = torch.cat([model.generate(b, **kwargs) for b in _batches(cfg, tokenizer, model, 1)])
    assert torch.equal(together, alone)


def test_zero3_two_ranks_each_missing_a_modality(vlm_run, tmp_path):
    """ZeRO-3 on two ranks, one video-only and one audio-only sample: every step one rank has no
    video (its vision tower runs on a dummy) and the other no audio; neither waits for ever."""
    workspace, _, overrides = vlm_run
    data = single_modality_pair(workspace, tmp_path / "mixed.jsonl")
    out = tmp_path / "run"
    run_cli(
        workspace,
        [
            f"output_dir={out}",
            *overrides,
            f"data.train_file={data}",
            "data.group_by_modality=false",
            "train.micro_batch_size=1",
            "train.deepspeed.zero_stage=3",
            "stages=[{name: ft, kind: moka_finetune, epochs: 2}]",
        ],
        ranks=2,
        timeout=500,
    )
    assert sorted(losses(out, "ft")) == [1, 2]
    manifest = json.loads((out / "export" / "ft" / "manifest.json").read_text())["files"].values()
    assert sorted(e["role"] for e in manifest) == ["adapter", "embeddings", "projector.audio"]
