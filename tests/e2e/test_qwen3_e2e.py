"""Qwen3 as a backbone, end to end: the real CLI trains the tiny recipe (text + video through the tiny
CLIP + audio through the tiny BEATs) on a tiny random Qwen3 rendered through the real Qwen3 chat
template with thinking off: both projector stages, MokA fine-tuning, exports; the export is loaded
back and batched left-padded generation equals per-sample generation."""

import json
from pathlib import Path

import pytest
import torch
from e2e_helpers import DEMO_CONFIG, losses, run_cli
from safetensors.torch import load_file
from torch.utils.data import DataLoader, Subset

from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.dataset import MultimodalDataset
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.model.export import load_export
from moka_train.testing.qwen3 import make_tiny_qwen3

QWEN3_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "chat_templates" / "qwen3.jinja"


@pytest.fixture(scope="module")
def qwen3_run(workspace, tmp_path_factory):
    root = tmp_path_factory.mktemp("qwen3")
    make_tiny_qwen3(root / "llm", QWEN3_TEMPLATE.read_text(), seed=0)
    overrides = [
        f"model.llm_path={root / 'llm'}",
        "data.template=chat",
        "data.template_kwargs={enable_thinking: false}",
    ]
    out = root / "run"
    run_cli(workspace, [f"output_dir={out}", "stages.2.epochs=6", *overrides])
    return workspace, out, overrides


def test_qwen3_trains_both_stages_and_exports(qwen3_run):
    _, out, _ = qwen3_run
    for stage, modality in (("pretrain_video", "video"), ("pretrain_audio", "audio")):
        assert losses(out, stage)  # stage 1 trained (its data is the demo's, whatever its size)
        entries = json.loads((out / "export" / stage / "manifest.json").read_text())["files"].values()
        assert sorted(e["role"] for e in entries) == ["embeddings", f"projector.{modality}"]
    ft = list(losses(out, "finetune").values())
    assert len(ft) == 48
    early, late = sum(ft[:5]) / 5, sum(ft[-8:]) / 8
    assert late < early - 1.0, (early, late)  # MokA on Qwen3 learns the media-dependent answers
    manifest = json.loads((out / "export" / "finetune" / "manifest.json").read_text())
    assert sorted(e["role"] for e in manifest["files"].values()) == [
        "adapter",
        "embeddings",
        "projector.audio",
        "projector.video",
    ]
    adapter = load_file(str(out / "export" / "finetune" / "adapter.safetensors"))
    lora_b = [k for k in adapter if "lora_B" in k]
    assert lora_b and all(adapter[k].abs().sum() > 0 for k in lora_b)  # trained away from zero
    assert all(".mlp." in k or ".self_attn." in k for k in adapter)  # the LM's linear layers only


def _batches(cfg, tokenizer, model, batch_size, n=6):
    data = MultimodalDataset.from_file(
        cfg.data.train_file, cfg.data, tokenizer, [b.spec for b in model.branches], generation=True
    )
    return list(
        DataLoader(
            Subset(data, list(range(n))), batch_size=batch_size, collate_fn=Collator(tokenizer.pad_token_id, "left")
        )
    )


def test_qwen3_export_generates_the_same_batched_and_alone(qwen3_run, monkeypatch):
    workspace, out, overrides = qwen3_run
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    cfg = load_config(DEMO_CONFIG, overrides)
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer, cfg.adapter).eval()
    assert sorted(load_export(model, out / "export" / "finetune")) == [
        "adapter",
        "embeddings",
        "projector.audio",
        "projector.video",
    ]
    batched = _batches(cfg, tokenizer, model, 6)[0]
    assert (batched["attention_mask"] == 0).any()  # the prompts really differ in length
    prompt = tokenizer.decode(batched["input_ids"][0][batched["attention_mask"][0].bool()])
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")  # thinking off, as trained
    kwargs = dict(max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=None)
    together = model.generate(batched, **kwargs)
    alone = torch.cat([model.generate(b, **kwargs) for b in _batches(cfg, tokenizer, model, 1)])
    assert torch.equal(together, alone)
