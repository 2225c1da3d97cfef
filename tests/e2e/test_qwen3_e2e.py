"""Qwen3 as a backbone, end to end: the real CLI trains the tiny recipe (text + video through the tiny
CLIP + audio through the tiny BEATs) on a tiny random Qwen3 rendered through the real Qwen3 chat
template with thinking off: both projector stages, MokA fine-tuning, exports; the export is loaded
back and batched left-padded generation equals per-sample generation."""

from pathlib import Path

import e2e_helpers as e2e
import pytest
import torch
from export_generation import exported_model, generate_batched_and_alone

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
    e2e.run_cli(workspace, [f"output_dir={out}", "stages.2.epochs=6", *overrides])
    return workspace, out, overrides


def test_qwen3_trains_both_stages_and_exports(qwen3_run):
    _, out, _ = qwen3_run
    for stage, modality in (("pretrain_video", "video"), ("pretrain_audio", "audio")):
        assert e2e.losses(out, stage)  # stage 1 trained (its data is the demo's, whatever its size)
        assert e2e.export_roles(out, stage) == ["embeddings", f"projector.{modality}"]
    # MokA on Qwen3 learns the media-dependent answers
    adapter = e2e.finetuned_adapter(out, ["adapter", "embeddings", "projector.audio", "projector.video"])
    assert all(".mlp." in k or ".self_attn." in k for k in adapter)  # the LM's linear layers only


def test_qwen3_export_generates_the_same_batched_and_alone(qwen3_run, monkeypatch):
    cfg, tokenizer, model, roles = exported_model(*qwen3_run, monkeypatch)
    assert roles == ["adapter", "embeddings", "projector.audio", "projector.video"]
    batched, together, alone = generate_batched_and_alone(cfg, tokenizer, model)
    prompt = tokenizer.decode(batched["input_ids"][0][batched["attention_mask"][0].bool()])
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")  # thinking off, as trained
    assert torch.equal(together, alone)
