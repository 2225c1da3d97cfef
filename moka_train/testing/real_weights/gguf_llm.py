"""A GGUF causal LM -> an HF folder (safetensors weights, config, tokenizer with its chat template).

transformers reads GGUF itself (``from_pretrained(dir, gguf_file=...)``, needs the ``gguf``
package) and de-quantises every tensor to float32, but refuses to ``save_pretrained`` a model it
loaded from GGUF. So the weights are copied into a model built from the same config without the
GGUF quantisation record, checked key for key, and that model is saved: it then loads in seconds
through the project's ``model.build.load_llm`` like any HF checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch


def _plain_config(config):
    """The loaded config without the GGUF quantisation record (so the saved model is plain HF)."""
    plain = config.__class__.from_dict(config.to_dict())
    if hasattr(plain, "quantization_config"):
        del plain.quantization_config
    plain.dtype = torch.float32
    return plain


def convert_gguf_llm(gguf_file: Path, output: Path) -> dict[str, str | int]:
    """Writes the HF folder to ``output``; returns a few facts about the model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not tokenizer.chat_template:
        raise ValueError(f"{gguf_file}: the GGUF carries no chat template (tokenizer.chat_template)")
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    plain = AutoModelForCausalLM.from_config(_plain_config(loaded.config), dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if k not in _tied_keys(plain)]
    if missing or unexpected:
        raise ValueError(
            f"{gguf_file}: GGUF weights do not match {type(plain).__name__}: missing {missing}, unexpected {unexpected}"
        )
    plain.save_pretrained(output)
    tokenizer.save_pretrained(output)
    cfg = plain.config
    return {
        "architecture": type(plain).__name__,
        "layers": cfg.num_hidden_layers,
        "hidden": cfg.hidden_size,
        "vocab": cfg.vocab_size,
    }


def _tied_keys(model) -> set[str]:
    """The output embedding's keys when it is tied to the input embedding (one tensor, one key)."""
    if getattr(model.config, "tie_word_embeddings", False):
        return {"lm_head.weight"}
    return set()
