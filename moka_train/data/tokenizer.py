"""The run's tokenizer: the local one, with every modality placeholder added as a special token
(and, in the official prompt style, the official start/end and question markers)."""

from __future__ import annotations

from pathlib import Path

from ..config.schema import ModelConfig
from ..modality import build_modality_specs
from .tokenize import add_placeholder_tokens


def load_tokenizer(model_cfg: ModelConfig, prompt_style: str = "placeholders"):
    from transformers import AutoTokenizer

    key = "model.tokenizer_path" if model_cfg.tokenizer_path else "model.llm_path"
    path = Path(model_cfg.tokenizer_path or model_cfg.llm_path)
    if not path.is_dir():
        raise FileNotFoundError(f"{key}: tokenizer directory not found at {str(path)!r}")
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    # only names and placeholders matter here; token counts come from the built model
    specs = build_modality_specs([(m.name, m.placeholder, 1) for m in model_cfg.modalities])
    add_placeholder_tokens(tokenizer, specs, prompt_style)
    if tokenizer.pad_token_id is None:  # LLaMA ships none; padding is masked by modality ids anyway
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
