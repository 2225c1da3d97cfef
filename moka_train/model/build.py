"""build_model: a MultimodalLM from the model/adapter config, loading local checkpoints only.

The one builder for every backbone. What a backbone does differently is declared in
config/backbones.py (the Auto class it loads with, its model type, the submodule the adapters go
on) and, for a backbone with its own vision path, done by its hook (vision_language.NativeVision).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..adapters import AdapterSpec, RoutingSlot, apply_adapters
from ..config.backbones import backbone
from ..config.schema import AdapterConfig, ModalityConfig, ModelConfig
from ..encoders.base import CheckpointKeyError
from ..encoders.registry import build_encoder
from ..modality import modality_specs
from ..projectors.registry import build_projector
from ..utils.hf import enable_activation_checkpointing
from ..utils.logging import get_logger
from .backbone_hook import TextBackbone
from .multimodal_lm import Branch, MultimodalLM
from .vision_language import NativeVision

log = get_logger(__name__)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


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
    """The backbone's checkpoint through its Auto class (config/backbones.py), read strictly."""
    import transformers

    kind = backbone(model_cfg.backbone)
    path = Path(model_cfg.llm_path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"model.llm_path: no HF model directory (config.json) at {str(path)!r}")
    auto = getattr(transformers, kind.auto_class)
    llm, info = auto.from_pretrained(str(path), dtype=DTYPES[model_cfg.dtype], output_loading_info=True)
    if kind.model_type is not None and llm.config.model_type != kind.model_type:
        raise ValueError(
            f"model.backbone {model_cfg.backbone}: the model at {str(path)!r} is a {llm.config.model_type!r} model"
        )
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


def backbone_hook(model_cfg: ModelConfig) -> TextBackbone:
    """What the builder does differently for ``model.backbone``: its own vision path, or none."""
    kind = backbone(model_cfg.backbone)
    return NativeVision(model_cfg, kind) if kind.native_vision else TextBackbone(model_cfg, kind)


def build_model(model_cfg: ModelConfig, tokenizer, adapter: AdapterConfig | None = None) -> MultimodalLM:
    """Encoders (frozen) → projectors → LLM (resized to the tokenizer) → adapters if given."""
    llm = load_llm(model_cfg)
    hook = backbone_hook(model_cfg)
    llm.requires_grad_(False)  # frozen (vision tower included): the adapters are its only trainable weights
    added = _resize_to_tokenizer(llm, tokenizer)  # the new rows stay frozen too (transformers keeps the flag)
    encoders, projectors, counts = _media_branches(model_cfg, hook, llm.get_input_embeddings().weight.shape[1])
    specs = modality_specs(model_cfg, counts)
    shapes = [hook.item_shape() if hook.owns(m) else _dummy_shape(m) for m in model_cfg.modalities]
    branches = [Branch(s, m.frames, shape) for s, m, shape in zip(specs, model_cfg.modalities, shapes, strict=True)]
    slot = RoutingSlot(len(specs))
    if adapter is not None:
        apply_adapters(hook.kind.adapted_module(llm), adapter_spec(adapter, model_cfg), slot)
    if model_cfg.gradient_checkpointing:
        enable_activation_checkpointing(llm)
    model = hook.wrap(llm, encoders, projectors, branches, slot, added)
    for m in model_cfg.modalities:
        log.info("media sampling %s: %s", m.name, m.sampling_plan().describe())
    if adapter is not None:
        log.info("adapter %s%s", adapter.method, _temperature_note(adapter))
    model.projectors.to(DTYPES[model_cfg.dtype])
    # DeepSpeed trains the whole module in model.dtype (its precision must agree): the encoders run
    # in it here too, so evaluation, serving and the feature cache see the features training saw
    model.encoders.to(DTYPES[model_cfg.dtype])
    return model


def _media_branches(model_cfg: ModelConfig, hook: TextBackbone, width: int) -> tuple[dict, dict, dict[str, int]]:
    """Encoder and projector of every modality the backbone does not encode itself, and every
    modality's LLM token count (checked against the built encoder, or the backbone's own)."""
    encoders, projectors, counts = {}, {}, {}
    for i, m in enumerate(model_cfg.modalities):
        if hook.owns(m):
            counts[m.name] = hook.tokens()
            continue
        encoders[m.name] = build_encoder(m.encoder, key=f"model.modalities[{i}].encoder")
        projectors[m.name] = build_projector(m.projector, encoders[m.name].output_dim, width)
        counts[m.name] = media_tokens(m, encoders[m.name], i)
    return encoders, projectors, counts


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
