"""Every registered adapter method is one config key away: it builds from the tiny recipe and
trains (adapters and projectors get gradients, the frozen LLM none)."""

import os
from pathlib import Path

import pytest
import torch

from moka_train.adapters import available_methods
from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.dataset import build_dataset
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"


@pytest.fixture(scope="module")
def batch_and_tokenizer(workspace):
    os.environ["DEMO_ROOT"] = str(workspace)
    cfg = load_config(CONFIG)
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer)
    dataset = build_dataset(cfg.data, tokenizer, [b.spec for b in model.branches])
    return Collator(tokenizer.pad_token_id)([dataset[i] for i in range(2)]), tokenizer


@pytest.mark.parametrize("method", available_methods())
def test_method_trains_from_the_recipe(method, batch_and_tokenizer):
    batch, tokenizer = batch_and_tokenizer
    cfg = load_config(CONFIG, [f"adapter.method={method}"])
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer, cfg.adapter)
    loss = model(batch)["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    roles = {model.role_of(n) for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert "adapter" in roles and {"projector.video", "projector.audio"} <= roles and "llm" not in roles
