"""Tiny random encoders written in each library's own on-disk format, so tests and the demo load
them through the real loaders in ``moka_train.encoders``. Every builder returns the path to give
as ``EncoderConfig.path``."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from moka_train.encoders.beats import BEATs, BEATsConfig, save_beats

# open_clip architecture of the tiny model; also the name to register with open_clip.add_model_config
TINY_OPEN_CLIP_NAME = "moka-tiny-vit"
TINY_OPEN_CLIP_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 28, "layers": 3, "width": 32, "head_width": 16, "patch_size": 14, "mlp_ratio": 2.0},
    "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1},
}

# CLIPVisionConfig fields of the tiny CLIP: 28 px, patch 14 (4 patch tokens), 3 blocks
TINY_HF_CLIP_SHAPE = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "image_size": 28,
    "patch_size": 14,
    "projection_dim": 16,
}

# every key of the official BEATsConfig, small sizes, the iter3+ structure (deep norm, gated bias)
TINY_BEATS_CFG = {
    "input_patch_size": 16,
    "embed_dim": 24,
    "conv_bias": False,
    "encoder_layers": 2,
    "encoder_embed_dim": 32,
    "encoder_ffn_embed_dim": 64,
    "encoder_attention_heads": 4,
    "activation_fn": "gelu",
    "layer_wise_gradient_decay_ratio": 1.0,
    "layer_norm_first": False,
    "deep_norm": True,
    "dropout": 0.1,
    "attention_dropout": 0.1,
    "activation_dropout": 0.0,
    "encoder_layerdrop": 0.0,
    "dropout_input": 0.0,
    "conv_pos": 16,
    "conv_pos_groups": 4,
    "relative_position_embedding": True,
    "num_buckets": 32,
    "max_distance": 64,
    "gru_rel_pos": True,
    "finetuned_model": True,
    "predictor_dropout": 0.1,
    "predictor_class": 5,
}

# the same architectures at real sizes (random weights): CLIP ViT-B/16 and BEATs base, for
# measurements where the encoders' cost must be a real one (bench_train --paper-media)
BASE_HF_CLIP_SHAPE = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "image_size": 224,
    "patch_size": 16,
    "projection_dim": 512,
}
BASE_BEATS_CFG = {
    **TINY_BEATS_CFG,
    "embed_dim": 512,
    "encoder_layers": 12,
    "encoder_embed_dim": 768,
    "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12,
    "conv_pos": 128,
    "conv_pos_groups": 16,
    "num_buckets": 320,
    "max_distance": 800,
    "predictor_class": 527,
}

# n_audio_ctx stays 1500: whisper's encoder only accepts full 30 s windows (3000 mel frames)
TINY_WHISPER_DIMS = {
    "n_mels": 80,
    "n_audio_ctx": 1500,
    "n_audio_state": 32,
    "n_audio_head": 2,
    "n_audio_layer": 2,
    "n_vocab": 64,
    "n_text_ctx": 16,
    "n_text_state": 32,
    "n_text_head": 2,
    "n_text_layer": 1,
}


def tiny_hf_clip_model(seed: int = 0, shape: dict | None = None):
    """A 3-block ``CLIPVisionModel`` (28 px, patch 14: 4 patch tokens), random, eval mode; or
    the architecture at ``shape`` (e.g. ``BASE_HF_CLIP_SHAPE``)."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(seed)
    return CLIPVisionModel(CLIPVisionConfig(**(shape or TINY_HF_CLIP_SHAPE))).eval()


def make_tiny_hf_clip(directory: str | Path, seed: int = 0, shape: dict | None = None) -> Path:
    """``tiny_hf_clip_model(seed, shape)`` in save_pretrained format."""
    tiny_hf_clip_model(seed, shape).save_pretrained(str(directory))
    return Path(directory)


def tiny_open_clip_model(seed: int = 0) -> nn.Module:
    """A random tiny ``open_clip.CLIP`` (28 px, patch 14, 3 vision blocks), eval mode."""
    import open_clip

    torch.manual_seed(seed)
    model = open_clip.CLIP(**TINY_OPEN_CLIP_CFG)
    _jitter(model)
    return model.eval()


def make_tiny_open_clip(directory: str | Path, seed: int = 0) -> Path:
    """A tiny open_clip CLIP in open_clip's ``local-dir`` layout: ``open_clip_config.json`` and
    ``open_clip_model.safetensors`` (also loadable as a file with ``TINY_OPEN_CLIP_NAME`` registered)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = tiny_open_clip_model(seed)
    (directory / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_OPEN_CLIP_CFG}, indent=2))
    (directory / f"{TINY_OPEN_CLIP_NAME}.json").write_text(json.dumps(TINY_OPEN_CLIP_CFG, indent=2))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "open_clip_model.safetensors"))
    return directory


def tiny_beats_model(seed: int = 0, cfg: dict | None = None) -> tuple[BEATs, dict[str, torch.Tensor]]:
    """A random 2-layer BEATs (deep norm, gated relative bias) and its classifier head weights;
    or the architecture of ``cfg`` (e.g. ``BASE_BEATS_CFG``)."""
    cfg = cfg or TINY_BEATS_CFG
    torch.manual_seed(seed)
    model = BEATs(BEATsConfig.from_checkpoint(cfg))
    _jitter(model)
    head = {
        "weight": torch.randn(cfg["predictor_class"], cfg["encoder_embed_dim"]) * 0.02,
        "bias": torch.zeros(cfg["predictor_class"]),
    }
    return model.eval(), head


def make_tiny_beats(path: str | Path, seed: int = 0, cfg: dict | None = None) -> Path:
    """``tiny_beats_model(seed, cfg)`` in the official format: ``{"cfg": ..., "model": state_dict}``
    with the official key names, including the fine-tuned classifier head."""
    model, head = tiny_beats_model(seed, cfg)
    return save_beats(model, path, finetuned_head=head)


def tiny_whisper_model(seed: int = 0) -> nn.Module:
    """A random tiny ``whisper.model.Whisper`` (2 encoder blocks, width 32), eval mode."""
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(seed)
    model = Whisper(ModelDimensions(**TINY_WHISPER_DIMS))
    _jitter(model)
    return model.eval()


def make_tiny_whisper(path: str | Path, seed: int = 0) -> Path:
    """``tiny_whisper_model(seed)`` as openai-whisper ships checkpoints: ``{"dims", "model_state_dict"}``."""
    model = tiny_whisper_model(seed)
    torch.save({"dims": dict(TINY_WHISPER_DIMS), "model_state_dict": model.state_dict()}, path)
    return Path(path)


@torch.no_grad()
def _jitter(model: nn.Module, scale: float = 0.05) -> None:
    """Perturb every parameter (norm gains, zero biases included) so no weight is a trivial
    constant and a loader that skipped one would change the features."""
    for param in model.parameters():
        param.add_(torch.randn_like(param) * scale)
