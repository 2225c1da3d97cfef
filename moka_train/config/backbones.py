"""What each LLM backbone (``model.backbone``) can and cannot do, declared once.

Every place that behaves differently for a backbone reads it from here (the config's checks, the
model builder, the data, the feature cache, the summaries and the memory plan) instead of testing
backbone or encoder-type strings of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Backbone:
    name: str
    # the transformers Auto class its from_pretrained folder loads with
    auto_class: Literal["AutoModelForCausalLM", "AutoModelForImageTextToText"]
    # encoder.type of the backbone's own (frozen) vision path inside model.llm_path; None: every
    # modality goes through a standalone encoder + projector spliced into the embeddings
    native_vision: str | None = None
    # rope positions: "1d" for a text LLM; "mrope" computes 3D positions per row from the media grid
    rope: Literal["1d", "mrope"] = "1d"
    # config.json model_type its checkpoint must declare; None: any text LLM the Auto class loads
    model_type: str | None = None
    # dotted attribute path of the submodule the adapters go on ("": the whole LLM); a
    # vision-language model adapts its language model only, never its vision tower
    language_model: str = ""

    def adapted_module(self, llm):
        """The part of a loaded (or meta) model of this backbone that gets the adapters."""
        module = llm
        for name in filter(None, self.language_model.split(".")):
            module = getattr(module, name)
        return module

    @property
    def packs(self) -> bool:
        """data.packing: several samples in one row need 1D positions restarting per sample."""
        return self.rope == "1d"

    def why_no_packing(self) -> str:
        return (
            f"data.packing: the {self.name} backbone computes its own 3D rope positions per row; "
            "packing is not supported there (set data.packing: false)"
        )


BACKBONES: dict[str, Backbone] = {
    "causal_lm": Backbone("causal_lm", "AutoModelForCausalLM"),
    "qwen2_5_vl": Backbone(
        "qwen2_5_vl",
        "AutoModelForImageTextToText",
        native_vision="qwen2_5_vl_vision",
        rope="mrope",
        model_type="qwen2_5_vl",
        language_model="model.language_model",
    ),
}

# encoder types that are a backbone's own vision path, not standalone encoders: no projector,
# no feature cache (the model runs them), their token count comes from the backbone's processor
NATIVE_VISION_TYPES = frozenset(b.native_vision for b in BACKBONES.values() if b.native_vision)


def backbone(name: str) -> Backbone:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"model.backbone: unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}") from None


def is_native_vision(encoder_type: str) -> bool:
    """True when the encoder type is a backbone's own vision path (run by the LLM itself)."""
    return encoder_type in NATIVE_VISION_TYPES
