"""``build_encoder``: one config entry -> one encoder module with the common interface
(``output_dim``, ``preprocess``, ``num_tokens``, ``forward -> [N, L, D]``; see ``base.Encoder``).

``ENCODERS`` maps ``encoder.type`` to a builder ``(cfg, path_key) -> Encoder``; each builder
imports its encoder module itself, so naming the types imports no encoder code."""

from __future__ import annotations

from collections.abc import Callable

from ..config.backbones import is_native_vision
from ..config.sections.model import EncoderConfig
from ..utils.registry import Registry
from .base import Encoder

ENCODERS: Registry[Callable[[EncoderConfig, str], Encoder]] = Registry("encoder", key="encoder.type")


@ENCODERS.register("clip_hf")
def _clip_hf(cfg: EncoderConfig, path_key: str) -> Encoder:
    from .clip import HFClipEncoder

    return HFClipEncoder(cfg.path, layer=cfg.layer, key=path_key)


@ENCODERS.register("clip_open_clip")
def _clip_open_clip(cfg: EncoderConfig, path_key: str) -> Encoder:
    from .clip import OpenClipEncoder

    return OpenClipEncoder(cfg.path, model_name=cfg.model_name, layer=cfg.layer, key=path_key)


@ENCODERS.register("beats")
def _beats(cfg: EncoderConfig, path_key: str) -> Encoder:
    from .beats import BeatsEncoder

    return BeatsEncoder(cfg.path, key=path_key)


@ENCODERS.register("whisper")
def _whisper(cfg: EncoderConfig, path_key: str) -> Encoder:
    from .whisper import WhisperEncoder

    return WhisperEncoder(cfg.path, key=path_key)


def build_encoder(cfg: EncoderConfig, key: str = "encoder") -> Encoder:
    """The encoder ``cfg`` describes, loaded from its local path; frozen (no grads, eval) when
    ``cfg.frozen``. ``key`` is the config location used in errors, e.g. ``model.modalities[0].encoder``."""
    if is_native_vision(cfg.type):  # reached by the feature cache writer, which builds encoders alone
        raise ValueError(
            f"{key}.type {cfg.type} is the vision tower inside model.llm_path (model.backbone: "
            "qwen2_5_vl), run by the model itself; it is no standalone encoder and the feature cache "
            "cannot hold it: unset data.feature_cache"
        )
    # the config schema already restricts the type; the registry's error guards direct construction
    build = ENCODERS.get(cfg.type, key=f"{key}.type")
    encoder = build(cfg, f"{key}.path")
    return encoder.freeze() if cfg.frozen else encoder
