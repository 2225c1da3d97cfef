"""A tiny MokA export (non-zero adapters) written through the real export code, for the
evaluate-run tests (a helper module, not a conftest: tests/data imports its own conftest by name)."""

import os
from pathlib import Path

import torch

from moka_train.adapters import adapter_modules
from moka_train.config import load_config
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.model.export import export_weights

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"


def build_export(workspace: Path, directory: Path):
    """(config, export directory, model) of the tiny recipe, exported under ``directory``."""
    os.environ["DEMO_ROOT"] = str(workspace)
    cfg = load_config(CONFIG)
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer, cfg.adapter)
    with torch.no_grad():
        for module in adapter_modules(model.llm).values():
            module.lora_B.normal_(0, 0.05)
    model.projectors.requires_grad_(True)
    out = directory / "ft"
    export_weights(model, out, "", {}, extra={"embeddings": model.added_embeddings()})
    return cfg, out, model
