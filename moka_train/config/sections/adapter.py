"""`adapter:` — which PEFT method wraps the LLM's linear layers, and its hyper-parameters."""

from typing import Literal

from pydantic import Field

from ...utils.adapter_targets import DEFAULT_TARGETS
from .base import Section


class AdapterConfig(Section):
    method: str = "moka"  # checked against the adapter registry when the model is built
    rank: int = Field(4, gt=0)
    alpha: float = 16.0
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    targets: tuple[str, ...] = DEFAULT_TARGETS
    # λ, the weight of MokA's text-guided cross-attention (paper: 1; visual-text recipe: 0.05)
    xattn_weight: float = 1.0
    # τ of the rank-space softmax: "paper" = √r on unscaled A outputs; "official" = √r after the
    # alpha/r scaling (the official audio-visual code); "num_query" = √(#query tokens) (first release)
    temperature: Literal["paper", "official", "num_query"] = "paper"
    # methods with N experts / heads (multi_lora, lora_moe, hydra_lora); 0 = number of modalities
    num_experts: int = Field(0, ge=0)
    # extra method-specific knobs (e.g. Wander's widths), validated by the method class
    # (a value may be a per-modality table, e.g. Wander's max_tokens: {text: 64, video: 320})
    options: dict[str, float | int | str | bool | dict[str, float | int | str | bool]] = {}
