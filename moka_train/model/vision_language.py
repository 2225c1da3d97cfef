"""Vision-language backbones (``model.backbone: qwen2_5_vl``): Qwen2.5-VL keeps its own, frozen
vision path for the video and only the other modalities (audio: BEATs + Q-Former) are new.

* Video: the data's uint8 frames go through the model's own video processor (resize, normalise,
  2-frame temporal patches -> ``pixel_values_videos``, ``video_grid_thw``) and the model's own
  vision tower + merger (``get_video_features``); the merged tokens replace the video placeholder
  run, whose length is the processor's token count for ``frames`` frames of ``native_frame_size``.
* Positions: the model's own multimodal rotary index (``get_rope_index``) with the video tokens
  typed as video and every other token, audio included, typed as text, so audio takes one text
  position per token and shifts what follows, as text would.
* Adapters: on the language model's linear layers only (the vision tower stays untouched);
  routing marks the visual tokens with the video modality id, the Q-Former tokens with audio's.

``model.build.build_model`` builds it like any backbone; ``NativeVision`` is its hook there (the
video's token count and raw shape, the model class), config/backbones.py says the rest.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ..config.backbones import Backbone
from ..config.sections.model import ModelConfig
from .backbone_hook import TextBackbone
from .multimodal_lm import MultimodalLM

MM_VIDEO = 2  # Qwen2.5-VL's mm_token_type_ids: text 0, image 1, video 2
# preprocessor_config.json of Qwen2.5-VL-7B-Instruct (14 px patches, 2 x 2 merge, 2-frame temporal patches)
QWEN25VL_PROCESSOR = dict(patch_size=14, temporal_patch_size=2, merge_size=2, min_pixels=3136, max_pixels=12845056)
# frame rate of the sampled frames when the processor states none: the temporal rotary spacing is
# tokens_per_second x temporal_patch_size / fps; AVE's 10 frames of a 10 s clip are 1 frame per second
NATIVE_FPS = 1.0


def native_video_tokens(processor, frames: int, size: int) -> tuple[int, tuple[int, int, int]]:
    """(LLM tokens, patch grid t/h/w) of one video of ``frames`` square frames, by the processor's own rule."""
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import smart_resize

    factor = processor.patch_size * processor.merge_size
    height, width = smart_resize(
        size, size, factor=factor, min_pixels=processor.size.shortest_edge, max_pixels=processor.size.longest_edge
    )
    grid = (-(-frames // processor.temporal_patch_size), height // processor.patch_size, width // processor.patch_size)
    return grid[0] * grid[1] * grid[2] // processor.merge_size**2, grid


def native_budget(model_cfg: ModelConfig, modality) -> str:
    """The native video's tokens per sample for ``validate``: from the model's own processor config
    when ``model.llm_path`` holds one, else from the published Qwen2.5-VL-7B-Instruct settings."""
    from transformers import AutoVideoProcessor, Qwen2VLVideoProcessor

    path = Path(model_cfg.llm_path)
    own = any((path / f).is_file() for f in ("video_preprocessor_config.json", "preprocessor_config.json"))
    processor = AutoVideoProcessor.from_pretrained(str(path)) if own else Qwen2VLVideoProcessor(**QWEN25VL_PROCESSOR)
    tokens, grid = native_video_tokens(processor, modality.frames, model_cfg.native_frame_size)
    source = "its processor" if own else "Qwen2.5-VL-7B-Instruct's published processor settings"
    return (
        f"{tokens} ({modality.frames} frames of {model_cfg.native_frame_size} px -> {grid[0]} temporal x "
        f"{grid[1] // processor.merge_size} x {grid[2] // processor.merge_size} merged patches, {source})"
    )


class NativeVision(TextBackbone):
    """The backbone hook of a backbone with its own vision path (``Backbone.native_vision``): the
    modality of that encoder type is encoded by the LLM itself, counted by its own video processor."""

    def __init__(self, model_cfg: ModelConfig, kind: Backbone) -> None:
        from transformers import AutoVideoProcessor

        super().__init__(model_cfg, kind)
        self.processor = AutoVideoProcessor.from_pretrained(str(Path(model_cfg.llm_path)))
        self.frame_size = model_cfg.native_frame_size
        # the config allows exactly one (ModelConfig._check_backbone)
        self.modality = next(m for m in model_cfg.modalities if m.encoder.type == kind.native_vision)

    def owns(self, m) -> bool:
        return m.name == self.modality.name

    def tokens(self) -> int:
        return native_video_tokens(self.processor, self.modality.frames, self.frame_size)[0]

    def item_shape(self) -> tuple[int, ...]:
        return (self.modality.frames, self.frame_size, self.frame_size, 3)  # uint8 frames

    def wrap(self, llm, encoders, projectors, branches, slot, added_token_ids: list[int]) -> MultimodalLM:
        args = (self.modality.name, self.processor, self.frame_size, self.kind)
        return VisionLanguageLM(llm, encoders, projectors, branches, slot, added_token_ids, *args)


class VisionLanguageLM(MultimodalLM):
    """A MultimodalLM whose video branch is the backbone's own vision path and whose positions are
    the backbone's own multimodal rotary index."""

    def __init__(
        self,
        llm,
        encoders,
        projectors,
        branches,
        slot,
        added_token_ids,
        native: str,
        processor,
        frame_size: int,
        kind: Backbone,
    ):
        super().__init__(llm, encoders, projectors, branches, slot, added_token_ids)
        self.native, self.processor, self.frame_size, self.kind = native, processor, frame_size, kind
        _, grid = native_video_tokens(processor, self.branch(native).frames, frame_size)
        self.video_grid = torch.tensor(grid)  # every video of the run has the same frames and size
        # seconds per temporal patch, as the processor states it for its own frame rate
        self.seconds_per_grid = processor.temporal_patch_size / (processor.fps or NATIVE_FPS)

    def encoder_features(self, name: str, raw: Tensor, frames: int) -> Tensor:
        """The native video: frames [n, F, S, S, 3] uint8 -> merged vision tokens [n, 1, K, d]."""
        if name != self.native:
            return super().encoder_features(name, raw, frames)
        if raw.shape[1] != frames or tuple(raw.shape[2:4]) != (self.frame_size, self.frame_size):
            raise ValueError(
                f"{name}: the batch holds {raw.shape[1]} frames of {tuple(raw.shape[2:4])} px; the "
                f"model expects {frames} frames (model.modalities[].frames) of {self.frame_size} px "
                "(model.native_frame_size): set data.video_frames and data.image_size to match"
            )
        videos = list(raw.permute(0, 1, 4, 2, 3).cpu())  # [F, 3, H, W] each
        inputs = self.processor(videos=videos, return_tensors="pt", cap_pixels_per_frame=False)
        visual = self.llm.model.visual
        with torch.set_grad_enabled(torch.is_grad_enabled() and any(p.requires_grad for p in visual.parameters())):
            out = self.llm.model.get_video_features(
                inputs["pixel_values_videos"].to(raw.device), inputs["video_grid_thw"].to(raw.device)
            )
        return torch.stack(out.pooler_output)[:, None]  # [n, 1, K, d]

    def project(self, name: str, feats: Tensor) -> Tensor:
        """The native video needs no projector: its merger already speaks the LLM's width."""
        if name != self.native:
            return super().project(name, feats)
        return feats.flatten(1, 2)  # [n, K, d]

    def rope_inputs(self, batch: dict) -> dict:
        """What the model's own rope index needs: token types (video 2, all else 0) and one grid
        (and temporal spacing) per video in the batch."""
        video_id = self.branch(self.native).spec.id
        types = (batch["modality_ids"] == video_id).int() * MM_VIDEO
        videos = int(types.bool().sum()) // self.branch(self.native).spec.num_tokens
        grid = self.video_grid.to(types.device).repeat(videos, 1) if videos else None
        seconds = torch.full((videos,), self.seconds_per_grid) if videos else None
        return {"mm_token_type_ids": types, "video_grid_thw": grid, "second_per_grid_ts": seconds}

    def position_ids(self, batch: dict) -> Tensor:
        """[3, B, T]: the model's own multimodal rotary positions for this batch."""
        positions, _ = self.llm.model.get_rope_index(
            batch["input_ids"], attention_mask=batch["attention_mask"], **self.rope_inputs(batch)
        )
        return positions

    def llm_inputs(self, batch: dict) -> dict:
        """The padding mask as given and the backbone's own 3D rotary positions of each row."""
        if batch.get("segment_ids") is not None:  # packed rows: the rope index is per real sequence
            raise ValueError(self.kind.why_no_packing())
        return {"attention_mask": batch["attention_mask"], "position_ids": self.position_ids(batch)}

    def generation_inputs(self, batch: dict) -> dict:
        """The prompt's ids and the rope index's inputs: the model's own generation computes the
        prompt's 3D positions from them and keeps its rotary deltas per decode step."""
        rope = {k: v for k, v in self.rope_inputs(batch).items() if v is not None}
        return {"input_ids": batch["input_ids"], **rope}
