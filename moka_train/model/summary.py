"""What a recipe costs before it runs: tokens per sample per modality, trainable parameters per role.

Parameters are counted on the meta device (no weights are read): the LLM from its config.json,
each projector from its encoder's width, which is read from the checkpoint's metadata only
(HF config.json, the `cfg` of a BEATs file, the `dims` of a Whisper file; torch files are memory-
mapped, not loaded). A path that does not exist yet is reported as such, never guessed.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..adapters import RoutingSlot, apply_adapters, count_adapter_parameters
from ..config.backbones import backbone, is_native_vision
from ..config.schema import EncoderConfig, RunConfig
from ..projectors.registry import build_projector
from .build import adapter_spec


def token_budget(cfg: RunConfig) -> dict[str, int | str]:
    """LLM tokens one sample's media becomes, per modality (Q-Former: queries × frames; MLP: encoder
    tokens × frames)."""
    budget: dict[str, int | str] = {}
    for m in cfg.model.modalities:
        if is_native_vision(m.encoder.type):  # the backbone's own processor decides
            from .vision_language import native_budget

            budget[m.name] = native_budget(cfg.model, m)
            continue
        budget[m.name] = m.media_tokens()  # what the data side expands the placeholder to
    return budget


def encoder_width(enc: EncoderConfig) -> int | None:
    path = Path(enc.path)
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):  # no metadata to read (yet)
        return None
    if enc.type == "clip_hf":
        if not (path / "config.json").is_file():
            return None
        config = json.loads((path / "config.json").read_text())
        return config.get("vision_config", config).get("hidden_size")
    if enc.type == "beats":
        return torch.load(path, map_location="meta", weights_only=True, mmap=True)["cfg"]["encoder_embed_dim"]
    if enc.type == "whisper":
        return torch.load(path, map_location="meta", weights_only=True, mmap=True)["dims"]["n_audio_state"]
    return None  # open_clip: the width lives in its model config, resolved when the encoder is built


def trainable_parameters(cfg: RunConfig) -> dict[str, int | str]:
    """Trainable parameters per role in the last (fine-tuning) stage of the recipe."""
    from transformers import AutoConfig

    counts: dict[str, int | str] = {}
    llm_dir = Path(cfg.model.llm_path)
    width = None
    if (llm_dir / "config.json").is_file():
        with torch.device("meta"):
            llm = meta_language_model(cfg, AutoConfig.from_pretrained(str(llm_dir)))
        width = llm.config.hidden_size
        apply_adapters(llm, adapter_spec(cfg.adapter, cfg.model), RoutingSlot(len(cfg.model.modalities)))
        counts["adapter"] = count_adapter_parameters(llm)
    else:
        counts["adapter"] = f"unknown: no config.json under model.llm_path {str(llm_dir)!r}"
    for m in cfg.model.modalities:
        if is_native_vision(m.encoder.type):
            counts[f"projector.{m.name}"] = "none: the backbone's own vision path, frozen"
            continue
        in_dim = encoder_width(m.encoder)
        if in_dim is None or width is None:
            counts[f"projector.{m.name}"] = f"unknown: checkpoint metadata not found at {m.encoder.path!r}"
            continue
        with torch.device("meta"):
            projector = build_projector(m.projector, in_dim, width)
        counts[f"projector.{m.name}"] = sum(p.numel() for p in projector.parameters())
    return counts


def meta_whole_model(cfg: RunConfig, config):
    """The backbone's whole model (a vision-language model's vision tower included) from its
    config, on the current (meta) device, through its Auto class."""
    import transformers

    return getattr(transformers, backbone(cfg.model.backbone).auto_class).from_config(config)


def meta_language_model(cfg: RunConfig, config):
    """The module the adapters go on: the LLM, or a vision-language model's language model only."""
    return backbone(cfg.model.backbone).adapted_module(meta_whole_model(cfg, config))


def describe(cfg: RunConfig) -> dict:
    return {"tokens_per_sample": token_budget(cfg), "trainable_parameters": trainable_parameters(cfg)}
