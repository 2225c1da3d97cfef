"""A tiny random Qwen3 backbone on disk: a ``Qwen3Config`` causal LM and a byte-level BPE tokenizer
with Qwen3's special-token layout and a given chat template (the tests pass the real one).

Qwen3's tokenizer is Qwen2's byte-level BPE with ``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``
as special tokens and the thinking and tool markers added as *non-special* tokens (they are text the
model reads and writes); the tiny one keeps that split so rendering meets the same token kinds.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, Qwen3Config

from .tokenizer import make_tiny_tokenizer

# added tokens of the real Qwen3 tokenizer that are not special (ids 151657-151668 there)
QWEN3_TEXT_TOKENS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>")


def tiny_qwen3_config(vocab_size: int, hidden: int = 64, layers: int = 2) -> Qwen3Config:
    return Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden // 4,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        # as testing.llm: a frozen random head needs rows of real norm to reach confident logits
        initializer_range=0.2,
    )


def make_tiny_qwen3(directory: str | Path, chat_template: str, seed: int = 0, **config_kwargs):
    """Tokenizer + random Qwen3 written to ``directory`` with save_pretrained; returns both."""
    directory = Path(directory)
    tokenizer = make_tiny_tokenizer(directory, style="qwen2")
    tokenizer.add_tokens(list(QWEN3_TEXT_TOKENS), special_tokens=False)
    tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(str(directory))
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_qwen3_config(len(tokenizer), **config_kwargs), dtype=torch.float32)
    model.eval()
    model.save_pretrained(str(directory))
    return tokenizer, model
