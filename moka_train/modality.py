"""The one place where the modality-id encoding lives.

``modality_ids`` is a ``LongTensor[B, T]`` that travels with every batch:
``0`` ordinary text, ``1`` query text (the user's own instruction/question words, the keys
of MokA's cross-attention), ``2..`` non-text modalities in config order, ``-1`` padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .utils.media_sampling import SamplingPlan

if TYPE_CHECKING:
    from .config.sections.model import ModelConfig

PAD = -1
TEXT = 0
QUERY = 1
FIRST_MEDIA = 2
# ``labels`` beside them: this id marks a position that is not trained (the causal LM's and
# cross_entropy's ignore_index), written by the data side and skipped by the model's loss
IGNORE_INDEX = -100

# The name of the text modality: adapter index 0 (text, query text and padding), the key of the
# text adapter's parameters ("lora_A.text") and the word configs use for it.
TEXT_NAME = "text"


@dataclass(frozen=True)
class ModalitySpec:
    """A non-text modality as the data and the model see it.

    ``index`` is its position among the non-text modalities (0-based, config order);
    its id in ``modality_ids`` is ``FIRST_MEDIA + index``.
    """

    name: str
    placeholder: str
    num_tokens: int
    index: int
    sampling: SamplingPlan | None = None  # None: data.video_frames and the whole waveform
    wrap: tuple[str, str] | None = None  # text the prompt puts around the placeholder (model tokens)
    accepts: tuple[str, ...] = ()  # other record keys read as this modality, one frame each (images)

    @property
    def id(self) -> int:
        return modality_id(self.index)


def modality_id(index: int) -> int:
    """Id in ``modality_ids`` of the ``index``-th non-text modality."""
    return FIRST_MEDIA + index


def build_modality_specs(
    names_placeholders_tokens: list[tuple[str, str, int]],
    sampling: dict[str, SamplingPlan] | None = None,
    wraps: dict[str, tuple[str, str] | None] | None = None,
    accepts: dict[str, tuple[str, ...]] | None = None,
) -> list[ModalitySpec]:
    """Specs in config order (with each name's sampling plan and placeholder wrap); names and
    placeholders must be unique."""
    names = [n for n, _, _ in names_placeholders_tokens]
    placeholders = [p for _, p, _ in names_placeholders_tokens]
    if len(set(names)) != len(names) or len(set(placeholders)) != len(placeholders):
        raise ValueError(f"modality names and placeholders must be unique, got {names} / {placeholders}")
    sampling, wraps, accepts = sampling or {}, wraps or {}, accepts or {}
    return [
        ModalitySpec(n, p, k, i, sampling.get(n), wraps.get(n), tuple(accepts.get(n, ())))
        for i, (n, p, k) in enumerate(names_placeholders_tokens)
    ]


def modality_specs(model: ModelConfig, counts: dict[str, int] | None = None) -> list[ModalitySpec]:
    """Specs of ``model.modalities`` in config order, each placeholder expanded to
    ``ModalityConfig.media_tokens()`` (the count the projector emits; the model checks its encoders
    agree) unless ``counts`` gives the modality's count (the model: a backbone's own vision path,
    counted by its processor)."""
    counts = counts or {}
    return build_modality_specs(
        [(m.name, m.placeholder, counts.get(m.name, m.media_tokens())) for m in model.modalities],
        {m.name: m.sampling_plan() for m in model.modalities},
        {m.name: m.wrap for m in model.modalities},
        {m.name: m.accepts for m in model.modalities},
    )
