"""CLIP vision encoders (HF ``CLIPVisionModel`` directories and open_clip checkpoints) and their
own image preprocessing.

Features are the patch tokens (CLS dropped) of one hidden layer, the penultimate by default as in
LLaVA and the official MokA code. ``layer`` indexes the hidden-state tuple of HF CLIP: 0 is the
embedding output, -1 the last block, -2 the penultimate block.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .base import Encoder, require_path

# OpenAI CLIP's normalisation, used by CLIPImageProcessor and open_clip's OpenAI models.
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ClipPreprocess:
    """CLIP's image transform, vectorised: resize the shorter side to ``size`` (bicubic,
    antialiased), centre-crop ``size`` x ``size``, scale to [0, 1], normalise by mean/std.

    Call it on uint8 frames ``[N, H, W, 3]`` (tensor or numpy; one video's frames share a size),
    on one PIL image, or on a list of PIL images. Returns float32 ``[N, 3, size, size]``.
    """

    size: int
    mean: tuple[float, float, float] = OPENAI_CLIP_MEAN
    std: tuple[float, float, float] = OPENAI_CLIP_STD

    def __call__(self, images) -> torch.Tensor:
        if isinstance(images, (list, tuple)):  # PIL images may differ in size: one resize each
            return torch.cat([self._frames(_pil_to_uint8(im)) for im in images])
        if hasattr(images, "convert"):  # a single PIL image
            return self._frames(_pil_to_uint8(images))
        return self._frames(torch.as_tensor(images))

    def _frames(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 frames [N, H, W, 3], got shape {tuple(frames.shape)}")
        x = frames.permute(0, 3, 1, 2).float()  # [N, 3, H, W]
        h, w = x.shape[-2:]
        scale = self.size / min(h, w)
        new_h, new_w = max(self.size, int(h * scale)), max(self.size, int(w * scale))
        x = F.interpolate(x, size=(new_h, new_w), mode="bicubic", antialias=True, align_corners=False)
        top, left = round((new_h - self.size) / 2), round((new_w - self.size) / 2)
        x = x[..., top : top + self.size, left : left + self.size]  # [N, 3, S, S]
        # bicubic overshoots; PIL-based CLIP pipelines clamp to the uint8 range before scaling
        x = x.clamp(0, 255) / 255.0
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return (x - mean) / std


def _pil_to_uint8(image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image.convert("RGB")).copy()).unsqueeze(0)  # [1, H, W, 3]


class HFClipEncoder(Encoder):
    """``CLIPVisionModel.from_pretrained(local_dir)``; features ``hidden_states[layer][:, 1:]``."""

    def __init__(self, path: str | Path, layer: int = -2, key: str = "encoder.path"):
        super().__init__()
        from transformers import CLIPVisionModel  # deferred: transformers import is slow

        directory = require_path(path, key, "directory")
        self.model = CLIPVisionModel.from_pretrained(str(directory), local_files_only=True, dtype=torch.float32)
        config = self.model.config
        _check_layer(layer, config.num_hidden_layers)
        self.layer = layer
        self.output_dim = config.hidden_size
        self.image_size = config.image_size
        self.patch_size = config.patch_size
        self.preprocess = _hf_preprocess(directory, config.image_size)

    def num_tokens(self, seconds: float | None = None) -> int:
        return (self.image_size // self.patch_size) ** 2

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        pixels = pixels.to(self.model.dtype)
        out = self.model(pixel_values=pixels, output_hidden_states=True)
        return out.hidden_states[self.layer][:, 1:]  # [N, L, D]: drop CLS


class OpenClipEncoder(Encoder):
    """The visual tower of an open_clip model.

    ``path`` is either a checkpoint file, loaded as ``open_clip.create_model(model_name,
    pretrained=path)``, or a directory in open_clip's own layout (``open_clip_config.json`` plus
    weights), loaded as ``create_model("local-dir:<path>")``.
    """

    def __init__(self, path: str | Path, model_name: str | None = None, layer: int = -2, key: str = "encoder.path"):
        super().__init__()
        import open_clip

        location = require_path(path, key)
        # require_pretrained: open_clip only warns when a directory holds no weights
        if location.is_dir():
            model = open_clip.create_model(f"local-dir:{location}", require_pretrained=True, weights_only=True)
        else:
            if not model_name:
                raise ValueError(
                    f"{key}: {str(location)!r} is a checkpoint file, so open_clip needs "
                    "model_name (the architecture, e.g. ViT-L-14)"
                )
            model = open_clip.create_model(
                model_name, pretrained=str(location), require_pretrained=True, weights_only=True
            )
        self.visual = model.visual  # the text tower is never used: drop it
        num_blocks = len(self.visual.transformer.resblocks)
        _check_layer(layer, num_blocks)
        # hidden-state index h (0 = embeddings) is the output of block h - 1
        self.block = layer % (num_blocks + 1) - 1
        if self.block < 0:
            raise ValueError(f"open_clip encoders expose block outputs only; layer {layer} is the embedding")
        self.layer = layer
        self.output_dim = self.visual.transformer.width
        self.image_size = _as_int(self.visual.image_size)
        self.patch_size = _as_int(self.visual.patch_size)
        cfg = open_clip.get_model_preprocess_cfg(model)
        self.preprocess = ClipPreprocess(
            size=_as_int(cfg.get("size", self.image_size)), mean=tuple(cfg["mean"]), std=tuple(cfg["std"])
        )

    def num_tokens(self, seconds: float | None = None) -> int:
        return (self.image_size // self.patch_size) ** 2

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        pixels = pixels.to(self.visual.conv1.weight.dtype)
        out = self.visual.forward_intermediates(
            pixels, indices=[self.block], stop_early=True, intermediates_only=True, output_fmt="NLC"
        )
        return out["image_intermediates"][0]  # [N, L, D], CLS already split off


def _check_layer(layer: int, num_blocks: int) -> None:
    if not -(num_blocks + 1) <= layer <= num_blocks:
        raise ValueError(
            f"CLIP layer {layer} out of range for {num_blocks} blocks (hidden states {-(num_blocks + 1)}..{num_blocks})"
        )


def _as_int(size: int | Sequence[int]) -> int:
    if isinstance(size, int):
        return size
    if len(set(size)) != 1:
        raise ValueError(f"only square CLIP inputs are supported, got {tuple(size)}")
    return int(size[0])


def _hf_preprocess(directory: Path, image_size: int) -> ClipPreprocess:
    """The directory's preprocessor_config.json when present, else OpenAI CLIP's defaults."""
    config_file = directory / "preprocessor_config.json"
    if not config_file.is_file():
        return ClipPreprocess(size=image_size)
    cfg = json.loads(config_file.read_text())
    crop = cfg.get("crop_size", image_size)
    size = crop.get("height", image_size) if isinstance(crop, dict) else int(crop)
    return ClipPreprocess(
        size=size, mean=tuple(cfg.get("image_mean", OPENAI_CLIP_MEAN)), std=tuple(cfg.get("image_std", OPENAI_CLIP_STD))
    )
