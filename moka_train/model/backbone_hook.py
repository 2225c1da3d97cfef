"""The backbone hook: what ``build_model`` does differently for a backbone (config/backbones.py).

``TextBackbone`` is a text LLM: every modality goes through its own encoder + projector and the
model is a plain ``MultimodalLM``. A backbone with its own vision path subclasses it
(``vision_language.NativeVision``): its video needs no encoder or projector, counts its tokens with
the backbone's processor and the model class runs the backbone's own rotary positions.
"""

from __future__ import annotations

from ..config.backbones import Backbone
from ..config.sections.model import ModalityConfig, ModelConfig
from .multimodal_lm import MultimodalLM


class TextBackbone:
    def __init__(self, model_cfg: ModelConfig, kind: Backbone) -> None:
        self.kind = kind

    def owns(self, m: ModalityConfig) -> bool:
        """True for the modality the backbone itself encodes (no standalone encoder, no projector)."""
        return False

    def tokens(self) -> int:
        raise NotImplementedError(f"model.backbone {self.kind.name} encodes no modality itself")

    def item_shape(self) -> tuple[int, ...]:
        raise NotImplementedError(f"model.backbone {self.kind.name} encodes no modality itself")

    def wrap(self, llm, encoders, projectors, branches, slot, added_token_ids: list[int]) -> MultimodalLM:
        return MultimodalLM(llm, encoders, projectors, branches, slot, added_token_ids)
