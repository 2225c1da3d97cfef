"""``build_encoder``: one config entry -> one encoder module with the common interface
(``output_dim``, ``preprocess``, ``num_tokens``, ``forward -> [N, L, D]``; see ``base.Encoder``)."""

from __future__ import annotations

from moka_train.config.sections.model import EncoderConfig

from .base import Encoder


def build_encoder(cfg: EncoderConfig, key: str = "encoder") -> Encoder:
    """The encoder ``cfg`` describes, loaded from its local path; frozen (no grads, eval) when
    ``cfg.frozen``. ``key`` is the config location used in errors, e.g. ``model.modalities[0].encoder``."""
    path_key = f"{key}.path"
    if cfg.type == "clip_hf":
        from .clip import HFClipEncoder

        encoder = HFClipEncoder(cfg.path, layer=cfg.layer, key=path_key)
    elif cfg.type == "clip_open_clip":
        from .clip import OpenClipEncoder

        encoder = OpenClipEncoder(cfg.path, model_name=cfg.model_name, layer=cfg.layer, key=path_key)
    elif cfg.type == "beats":
        from .beats import BeatsEncoder

        encoder = BeatsEncoder(cfg.path, key=path_key)
    elif cfg.type == "whisper":
        from .whisper import WhisperEncoder

        encoder = WhisperEncoder(cfg.path, key=path_key)
    elif cfg.type == "qwen2_5_vl_vision":  # reached by the feature cache writer, which builds encoders alone
        raise ValueError(
            f"{key}.type qwen2_5_vl_vision is the vision tower inside model.llm_path (model.backbone: "
            "qwen2_5_vl), run by the model itself; it is no standalone encoder and the feature cache "
            "cannot hold it: unset data.feature_cache"
        )
    else:  # the config schema already restricts the type; this guards direct construction
        raise ValueError(
            f"{key}.type: unknown encoder {cfg.type!r}; choose one of clip_hf, clip_open_clip, beats, whisper"
        )
    return encoder.freeze() if cfg.frozen else encoder
