"""build_model: a MultimodalLM from the model/adapter config, loading local checkpoints only."""

from __future__ import annotations

from pathlib import Path

import torch

from ..adapters import AdapterSpec, RoutingSlot, apply_adapters
from ..config.schema import AdapterConfig, ModalityConfig, ModelConfig
from ..encoders.base import CheckpointKeyError
from ..encoders.registry import build_encoder
from ..modality import ModalitySpec, build_modality_specs
from ..projectors.registry import build_projector
from ..utils.hf import enable_activation_checkpointing
from ..utils.logging import get_logger
from .multimodal_lm import Branch, MultimodalLM

log = get_logger(__name__)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def modality_specs(model_cfg: ModelConfig, counts: list[int]) -> list[ModalitySpec]:
    """Name, placeholder and LLM token count of every non-text modality, in config order."""
    return build_modality_specs(
        [(m.name, m.placeholder, count) for m, count in zip(model_cfg.modalities, counts, strict=True)],
        {m.name: m.sampling_plan() for m in model_cfg.modalities},
        {m.name: m.wrap for m in model_cfg.modalities},
        {m.name: m.accepts for m in model_cfg.modalities},
    )


def media_tokens(m: ModalityConfig, encoder, index: int) -> int:
    """``m.media_tokens()``, the count the data side expands the placeholder to, once the built
    encoder is seen to emit the ``encoder.tokens`` per frame/segment the config promises."""
    emitted = encoder.num_tokens(m.segment_seconds)
    if m.encoder.tokens is not None and m.encoder.tokens != emitted:
        raise ValueError(
            f"model.modalities[{index}].encoder.tokens={m.encoder.tokens}, but the {m.encoder.type} encoder at "
            f"{m.encoder.path!r} emits {emitted} tokens per frame/segment: set encoder.tokens: {emitted}"
        )
    return m.media_tokens()


def adapter_spec(adapter: AdapterConfig, model_cfg: ModelConfig) -> AdapterSpec:
    return AdapterSpec(
        method=adapter.method,
        rank=adapter.rank,
        alpha=adapter.alpha,
        dropout=adapter.dropout,
        targets=adapter.targets,
        modalities=tuple(m.name for m in model_cfg.modalities),
        xattn_weight=adapter.xattn_weight,
        temperature=adapter.temperature,
        num_experts=adapter.num_experts,
        options=dict(adapter.options),
    )


def load_llm(model_cfg: ModelConfig):
    from transformers import AutoModelForCausalLM

    path = Path(model_cfg.llm_path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"model.llm_path: no HF model directory (config.json) at {str(path)!r}")
    llm, info = AutoModelForCausalLM.from_pretrained(str(path), dtype=DTYPES[model_cfg.dtype], output_loading_info=True)
    # transformers fills a missing weight with a random init and drops an unexpected one, warning
    # only: a checkpoint that does not match its config is an error here, every key named
    missing, unexpected = sorted(info["missing_keys"]), sorted(info["unexpected_keys"])
    mismatched = sorted(str(k) for k in info.get("mismatched_keys", ()))
    if missing or unexpected or mismatched:
        raise CheckpointKeyError(
            f"model.llm_path: the weights at {str(path)!r} do not match its config.json; missing keys "
            f"{missing or 'none'}, unexpected keys {unexpected or 'none'}, shape mismatches {mismatched or 'none'}"
        )
    return llm


def build_model(model_cfg: ModelConfig, tokenizer, adapter: AdapterConfig | None = None) -> MultimodalLM:
    """Encoders (frozen) → projectors → LLM (resized to the tokenizer) → adapters if given."""
    if model_cfg.backbone != "causal_lm":  # a vision-language model with its own vision path
        from .vision_language import build_vision_language_model

        return build_vision_language_model(model_cfg, tokenizer, adapter)
    llm = load_llm(model_cfg)
    added = _resize_to_tokenizer(llm, tokenizer)
    width = llm.get_input_embeddings().weight.shape[1]
    encoders, projectors = {}, {}
    for i, m in enumerate(model_cfg.modalities):
        encoder = build_encoder(m.encoder, key=f"model.modalities[{i}].encoder")
        encoders[m.name] = encoder
        projectors[m.name] = build_projector(m.projector, encoder.output_dim, width)
    counts = [media_tokens(m, encoders[m.name], i) for i, m in enumerate(model_cfg.modalities)]
    specs = modality_specs(model_cfg, counts)
    branches = [Branch(spec, m.frames, _dummy_shape(m)) for spec, m in zip(specs, model_cfg.modalities)]
    slot = RoutingSlot(len(specs))
    if adapter is not None:
        apply_adapters(llm, adapter_spec(adapter, model_cfg), slot)
    else:
        llm.requires_grad_(False)
    if model_cfg.gradient_checkpointing:
        enable_activation_checkpointing(llm)
    model = MultimodalLM(llm, encoders, projectors, branches, slot, added)
    for m in model_cfg.modalities:
        log.info("media sampling %s: %s", m.name, m.sampling_plan().describe())
    if adapter is not None:
        log.info("adapter %s%s", adapter.method, _temperature_note(adapter))
    model.projectors.to(DTYPES[model_cfg.dtype])
    # DeepSpeed trains the whole module in model.dtype (its precision must agree): the encoders run
    # in it here too, so evaluation, serving and the feature cache see the features training saw
    model.encoders.to(DTYPES[model_cfg.dtype])
    return model


def _temperature_note(adapter) -> str:
    """ ", cross-attention temperature: paper" for a method with MokA's cross-attention; "" for
    the others (LoRA and the baselines have no temperature to report)."""
    from ..adapters import get_method

    has_xattn = getattr(get_method(adapter.method), "cross_attention", False)
    return f", cross-attention temperature: {adapter.temperature}" if has_xattn else ""


def _resize_to_tokenizer(llm, tokenizer) -> list[int]:
    """Grow the vocabulary to the tokenizer's (placeholders added); returns the new token ids."""
    old = llm.get_input_embeddings().weight.shape[0]
    new = len(tokenizer)
    if new > old:
        llm.resize_token_embeddings(new, mean_resizing=False)
    return list(range(old, new))


def _dummy_shape(m: ModalityConfig) -> tuple[int, ...]:
    """One raw item of this modality: frames [F, H, W, 3] or audio windows [F, samples]."""
    if m.encoder.type.startswith("clip"):
        return (m.frames, 32, 32, 3)  # resized by the encoder's own preprocessing
    return (m.frames, m.sampling_plan().nominal_width())
