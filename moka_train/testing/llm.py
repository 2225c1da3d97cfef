"""Tiny random LLaMA / Qwen2 causal LMs built from configs, optionally saved with save_pretrained."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

FAMILIES = ("llama", "qwen2")


def tiny_decoder_shape(vocab_size: int, hidden: int, layers: int, max_positions: int = 2048) -> dict:
    """The decoder widths every tiny backbone shares (LLaMA, Qwen2, Qwen3, Qwen2.5-VL's text side)."""
    return dict(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        # a frozen random LM head needs rows of real norm, or RMS-normed states cannot
        # reach confident logits and no adapter can lower the loss (max logit ~ 8·0.16)
        initializer_range=0.2,
    )


def tiny_llm_config(family: str = "llama", vocab_size: int = 512, hidden: int = 64, layers: int = 2):
    common = {**tiny_decoder_shape(vocab_size, hidden, layers), "tie_word_embeddings": False}
    if family == "llama":
        return LlamaConfig(**common, rms_norm_eps=1e-6)
    if family == "qwen2":
        return Qwen2Config(**common)
    raise ValueError(f"unknown tiny LLM family {family!r}; choose one of {FAMILIES}")


def make_tiny_llm(family: str = "llama", seed: int = 0, directory: str | Path | None = None, **kwargs):
    """A random tiny causal LM in fp32 eval mode; saved in HF format when ``directory`` is given."""
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_llm_config(family, **kwargs), dtype=torch.float32)
    model.eval()
    if directory is not None:
        model.save_pretrained(str(directory))
    return model
