"""Key translation between the official MokA checkpoints and our parameter names.

A rule is a pair of templates, official and ours, whose ``{field}`` slots match the same text on
both sides (each field has one regex below), so one table translates both ways: forward to load
the official tensors, backward to name the official key a missing parameter would come from.
Keys no rule maps are either *unused by design* (each with its reason, listed in the report) or
unknown, and an unknown key is an error: nothing is dropped without being named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

FIELDS = {
    "n": r"\d+",  # layer index
    "p": r"weight|bias",
    "k": r"[02]",  # Linear positions of build_mlp's Sequential(Linear, GELU, Linear)
    "att": r"attention|crossattention",
    "qkv": r"query|key|value",
    "sub": r"dense|LayerNorm",
    "ffn": r"intermediate_query\.dense|output_query\.dense|output_query\.LayerNorm",
    "mod": r"self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj",  # the official LoRA targets
}


class OfficialImportError(ValueError):
    """An official checkpoint that cannot be imported; the message names the file and the keys."""


@cache  # a few dozen templates, matched against every key of a 7B checkpoint
def _compile(template: str) -> re.Pattern:
    pattern, pos = "", 0
    for m in re.finditer(r"\{(\w+)\}", template):
        pattern += re.escape(template[pos : m.start()]) + f"(?P<{m.group(1)}>{FIELDS[m.group(1)]})"
        pos = m.end()
    return re.compile(pattern + re.escape(template[pos:]))


@dataclass(frozen=True)
class Rule:
    official: str
    ours: str

    def translate(self, key: str, forward: bool) -> str | None:
        source, target = (self.official, self.ours) if forward else (self.ours, self.official)
        match = _compile(source).fullmatch(key)
        return target.format(**match.groupdict()) if match else None


@dataclass(frozen=True)
class Unused:
    official: str  # a regex over official keys
    reason: str


@dataclass(frozen=True)
class KeyMap:
    """Rules and unused-key patterns of one official module, under an official and our prefix."""

    official_prefix: str
    our_prefix: str
    rules: tuple[Rule, ...]
    unused: tuple[Unused, ...] = ()

    def owns(self, key: str) -> bool:
        return key.startswith(self.official_prefix)

    def to_ours(self, key: str) -> str | None:
        return self._translate(key, self.official_prefix, self.our_prefix, forward=True)

    def to_official(self, our_key: str) -> str | None:
        return self._translate(our_key, self.our_prefix, self.official_prefix, forward=False)

    def _translate(self, key: str, source_prefix: str, target_prefix: str, forward: bool) -> str | None:
        """The first rule's translation of ``key`` (below ``source_prefix``), under ``target_prefix``."""
        if not key.startswith(source_prefix):
            return None
        rest = key[len(source_prefix) :]
        found = next((t for t in (rule.translate(rest, forward) for rule in self.rules) if t is not None), None)
        return None if found is None else target_prefix + found

    def unused_reason(self, key: str) -> str | None:
        rest = key[len(self.official_prefix) :]
        return next((u.reason for u in self.unused if re.fullmatch(u.official, rest)), None)


# --- the official Q-Former projector (AudioVisualText/models/multimodal_encoder.py) -------------

QFORMER_TEXT_SIDE = "text input of the Q-Former (MokA feeds it no text; our projector has none)"


def qformer_keymap(official_prefix: str, stem: str, our_prefix: str) -> KeyMap:
    """VLProjector / ALProjector (``stem`` visual / audio) onto our QFormerProjector.

    BLIP-2's BertLMHeadModel holds a text path MokA never runs (it passes no question to the
    Q-Former): word/position embeddings, the text-token feed-forward of every layer, the LM head.
    """
    q = f"{stem}_Qformer.bert."
    rules = (
        Rule(f"{stem}_query_tokens", "query_tokens"),
        Rule(f"{stem}_ln.{{p}}", "norm.{p}"),
        Rule(f"{stem}_proj.{{k}}.{{p}}", "proj.{k}.{p}"),
        Rule(q + "embeddings.LayerNorm.{p}", "qformer.layernorm.{p}"),
        Rule(q + "encoder.layer.{n}.{att}.self.{qkv}.{p}", "qformer.encoder.layer.{n}.{att}.attention.{qkv}.{p}"),
        Rule(q + "encoder.layer.{n}.{att}.output.{sub}.{p}", "qformer.encoder.layer.{n}.{att}.output.{sub}.{p}"),
        Rule(q + "encoder.layer.{n}.{ffn}.{p}", "qformer.encoder.layer.{n}.{ffn}.{p}"),
    )
    qe = re.escape(q)
    unused = (
        Unused(
            qe + r"embeddings\.(word_embeddings\.weight|position_embeddings\.weight|position_ids)", QFORMER_TEXT_SIDE
        ),
        Unused(
            qe + r"encoder\.layer\.\d+\.(intermediate\.dense|output\.dense|output\.LayerNorm)\.(weight|bias)",
            "feed-forward of the Q-Former's text tokens (runs only on text input, which MokA never gives)",
        ),
        Unused(re.escape(f"{stem}_Qformer.cls.") + r".+", "language-model head of the Q-Former (unused by MokA)"),
    )
    return KeyMap(official_prefix, our_prefix, rules, unused)


# --- the official LoRA layers ---------------------------------------------------------------------


def avt_adapter_keymap(video: str, audio: str) -> KeyMap:
    """AudioVisualText/peft_hyper/tuners/lora.py: ``lora_A{0,1,2}`` = text, video, audio (the order
    of ``only_inputs`` in its forward), one shared ``lora_B0``."""
    mod = "model.layers.{n}.{mod}."
    rules = (
        Rule(mod + "lora_A0.weight", mod + "lora_A.text"),
        Rule(mod + "lora_A1.weight", mod + f"lora_A.{video}"),
        Rule(mod + "lora_A2.weight", mod + f"lora_A.{audio}"),
        Rule(mod + "lora_B0.weight", mod + "lora_B"),
    )
    return KeyMap("base_model.model.", "llm.", rules)


def vt_adapter_keymap(image: str) -> KeyMap:
    """VisualText/modified_peft/tuners/lora/layer.py: adapters ``image`` and ``text`` of a
    PeftMixedModel; its forward projects every token with ``lora_B.text`` (``lora_B.image`` is
    created by add_adapter but never applied)."""
    official, ours = "model.language_model.layers.{n}.{mod}.", "model.layers.{n}.{mod}."
    rules = (
        Rule(official + "lora_A.text.weight", ours + "lora_A.text"),
        Rule(official + "lora_A.image.weight", ours + f"lora_A.{image}"),
        Rule(official + "lora_B.text.weight", ours + "lora_B"),
    )
    frozen_llm = "frozen LLM weight (ours come from model.llm_path)"
    unused = (
        Unused(
            r"model\.language_model\.layers\.\d+\..+\.lora_B\.image\.weight",
            "B of the official 'image' adapter, never applied (every token goes through lora_B.text)",
        ),
        Unused(r"model\.language_model\.layers\.\d+\..+\.base_layer\.weight", frozen_llm),
        Unused(r"model\.language_model\.(norm|layers\.\d+\.(input|post_attention)_layernorm)\.weight", frozen_llm),
        Unused(
            r"model\.language_model\.embed_tokens\.weight|lm_head\.weight",
            "LLM embedding matrices: LLaMA's rows plus the official added tokens, which our prompt "
            "format does not use (our placeholders are replaced by media features)",
        ),
        Unused(r"model\.vision_tower\..+", "frozen CLIP weight (ours come from the encoder path)"),
    )
    return KeyMap("base_model.model.", "llm.", rules, unused)
