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

from .llm import tiny_decoder_shape
from .tokenizer import make_tiny_tokenizer

# added tokens of the real Qwen3 tokenizer that are not special (ids 151657-151668 there)
QWEN3_TEXT_TOKENS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>")


def tiny_qwen3_config(vocab_size: int, hidden: int = 64, layers: int = 2) -> Qwen3Config:
    shape = tiny_decoder_shape(vocab_size, hidden, layers)
    return Qwen3Config(**shape, head_dim=hidden // 4, tie_word_embeddings=False)


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
