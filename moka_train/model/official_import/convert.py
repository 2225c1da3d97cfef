"""Official MokA tensors -> our export roles, with the adapter settings the weights need.

Every official key is mapped (to a role and our parameter name), listed as unused with its
reason, or rejected: ``OfficialImportError`` names the file and the unknown keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from torch import Tensor

from ...config.schema import ModelConfig
from .keymap import KeyMap, OfficialImportError, Unused, avt_adapter_keymap, qformer_keymap, vt_adapter_keymap
from .sources import OfficialFile, read_peft_config

ADAPTER = "adapter"
# stage-1 files also carry the resized input embeddings; the official fine-tuning pops them
STAGE1_EMBEDDINGS = KeyMap(
    "model.",
    "",
    (),
    (
        Unused(
            r"embed_tokens\.weight",
            "LLM input embeddings after stage 1: the official fine-tuning discards them "
            "(scripts/finetune/finetune.py pops model.embed_tokens.weight), and our placeholders are replaced "
            "by media features",
        ),
    ),
)
OFFICIAL_DEFAULTS = {  # hard-coded in the official training scripts
    "avt": dict(alpha=16.0, xattn_weight=1.0, dropout=0.05, temperature="official"),  # finetune.py, ft_*.sh
    "vt": dict(alpha=16.0, xattn_weight=0.05, dropout=0.05, temperature="paper"),  # train.py (attn_weight)
}


@dataclass(frozen=True)
class AdapterSettings:
    """What our adapter config must say for the official weights to compute what they computed."""

    rank: int
    alpha: float
    temperature: str  # avt: √r on scaled rank vectors ("official"); vt: on unscaled ones ("paper")
    xattn_weight: float
    dropout: float
    method: str = "moka"

    def overrides(self) -> list[str]:
        return [f"adapter.{k}={v}" for k, v in asdict(self).items()]


@dataclass
class Converted:
    kind: str
    roles: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # our name -> "file: official key"
    unused: dict[str, list[str]] = field(default_factory=dict)  # reason -> "file: official key"
    keymaps: dict[str, list[KeyMap]] = field(default_factory=dict)  # role -> the maps that fill it
    settings: AdapterSettings | None = None
    slot_order: dict[str, str] = field(default_factory=dict)  # official A -> our modality slot

    def official_name(self, role: str, our_key: str) -> str:
        """The official key a parameter of ours is read from (for messages about missing keys)."""
        names = [n for km in self.keymaps.get(role, []) if (n := km.to_official(our_key))]
        return names[0] if names else f"<no official key maps to {our_key}>"


def visual_and_audio(model_cfg: ModelConfig) -> tuple[str | None, str | None]:
    """Our modalities that take the official visual (CLIP) and audio (BEATs) Q-Formers."""
    visual = [m.name for m in model_cfg.modalities if m.encoder.type.startswith("clip")]
    audio = [m.name for m in model_cfg.modalities if m.encoder.type == "beats"]
    if len(visual) > 1 or len(audio) > 1:
        raise OfficialImportError(
            f"model.modalities has {len(visual)} CLIP and {len(audio)} BEATs modalities; the "
            "official checkpoints hold one visual and one audio Q-Former"
        )
    return (visual[0] if visual else None), (audio[0] if audio else None)


def _projector_maps(prefix: str, visual: str | None, audio: str | None) -> list[tuple[str, KeyMap]]:
    maps = []
    for name, stem, part in ((visual, "visual", "vl_projector"), (audio, "audio", "al_projector")):
        if name is not None:
            maps.append((f"projector.{name}", qformer_keymap(f"{prefix}{part}.", stem, f"projectors.{name}.")))
    return maps


def _require_modality(file: OfficialFile, prefix: str, part: str, name: str | None, what: str) -> None:
    if name is None and any(k.startswith(f"{prefix}{part}.") for k in file.keys):
        raise OfficialImportError(
            f"{file.path} holds the official {what} Q-Former ({prefix}{part}.*) but "
            f"model.modalities has no {'CLIP' if what == 'visual' else 'BEATs'} modality to take it"
        )


def _place(key: str, maps: list[tuple[str, KeyMap]]) -> tuple[str, str] | str | None:
    """(role, our name) for a mapped key, the reason for an unused one, None for an unknown one."""
    for role, km in maps:
        if km.owns(key):
            ours = km.to_ours(key)
            if ours is not None:
                return role, ours
            reason = km.unused_reason(key)
            if reason is not None:
                return reason
    return None


def classify(file: OfficialFile, maps: list[tuple[str, KeyMap]], out: Converted) -> None:
    """Map, list as unused, or reject every key of one file; only mapped tensors are read."""
    mapped, unknown = {}, []
    for key in file.keys:
        placed = _place(key, maps)
        if placed is None:
            unknown.append(key)
        elif isinstance(placed, str):
            out.unused.setdefault(placed, []).append(f"{file.path.name}: {key}")
        elif placed[1] in out.origin:
            raise OfficialImportError(f"{file.path}: {key} and {out.origin[placed[1]]} both map to {placed[1]}")
        else:
            mapped[key] = placed
            out.origin[placed[1]] = f"{file.path.name}: {key}"
    if unknown:
        raise OfficialImportError(f"{file.path}: {len(unknown)} key(s) no mapping knows: {sorted(unknown)[:20]}")
    for key, tensor in file.read(mapped).items():
        role, ours = mapped[key]
        out.roles.setdefault(role, {})[ours] = tensor
    for role, km in maps:
        out.keymaps.setdefault(role, []).append(km)


def convert_projector_files(files: list[OfficialFile], model_cfg: ModelConfig) -> Converted:
    visual, audio = visual_and_audio(model_cfg)
    out = Converted("projector")
    for file in files:
        _require_modality(file, "model.", "vl_projector", visual, "visual")
        _require_modality(file, "model.", "al_projector", audio, "audio")
        classify(file, _projector_maps("model.", visual, audio) + [("embeddings", STAGE1_EMBEDDINGS)], out)
    if not out.roles:
        raise OfficialImportError(f"{[str(f.path) for f in files]} hold no official projector weights")
    return out


def convert_avt(files: list[OfficialFile], model_cfg: ModelConfig, root: Path) -> Converted:
    visual, audio = visual_and_audio(model_cfg)
    if visual is None or audio is None:
        raise OfficialImportError(
            "the audio-visual checkpoint needs model.modalities with one CLIP (video) and one "
            f"BEATs (audio) modality; the config has {[m.name for m in model_cfg.modalities]}"
        )
    adapter_file, projector_file = files
    out = Converted("avt", slot_order={"lora_A0": "text", "lora_A1": visual, "lora_A2": audio})
    classify(adapter_file, [(ADAPTER, avt_adapter_keymap(visual, audio))], out)
    classify(projector_file, _projector_maps("base_model.model.model.", visual, audio), out)
    out.settings = avt_settings(out.roles.get(ADAPTER, {}), read_peft_config(root), adapter_file.path)
    return out


def convert_vt(files: list[OfficialFile], model_cfg: ModelConfig) -> Converted:
    visual, _ = visual_and_audio(model_cfg)
    if visual is None:
        raise OfficialImportError(
            "the visual-text checkpoint needs a CLIP modality in model.modalities; the config "
            f"has {[m.name for m in model_cfg.modalities]}"
        )
    out = Converted("vt", slot_order={"lora_A.text": "text", "lora_A.image": visual})
    maps = [(ADAPTER, vt_adapter_keymap(visual))]
    maps += [
        (
            f"projector.{visual}",
            qformer_keymap("base_model.model.model.multi_modal_projector.", "visual", f"projectors.{visual}."),
        )
    ]
    classify(files[0], maps, out)
    out.settings = AdapterSettings(rank=_rank(out.roles.get(ADAPTER, {}), files[0].path), **OFFICIAL_DEFAULTS["vt"])
    return out


def _rank(adapter: dict[str, Tensor], source: Path) -> int:
    """The one rank of every A (rows) and B (columns); a layer that disagrees is named."""
    ranks = {k: (t.shape[1] if k.endswith("lora_B") else t.shape[0]) for k, t in adapter.items()}
    if not ranks:
        raise OfficialImportError(f"{source} holds no LoRA weights")
    rank = min(ranks.values())
    odd = sorted(k for k, r in ranks.items() if r != rank)
    if odd:
        raise OfficialImportError(f"{source}: every modality must share one rank ({rank}); these differ: {odd[:8]}")
    return rank


def avt_settings(adapter: dict[str, Tensor], peft: dict, source: Path) -> AdapterSettings:
    """Rank from the weights; alpha, λ (blc_weight) and dropout from adapter_config.json when
    shipped, else the values finetune.py and ft_*.sh hard-code. ``r`` there is one digit per
    modality (r=444: three rank-4 A's), and must agree with the weights."""
    rank = _rank(adapter, source)
    defaults = OFFICIAL_DEFAULTS["avt"]
    if peft:
        digits = [int(d) for d in str(peft.get("r", ""))]
        if digits and set(digits) != {rank}:
            raise OfficialImportError(
                f"{source.parent / 'adapter_config.json'}: r={peft['r']} disagrees with the rank-{rank} weights"
            )
    return AdapterSettings(
        rank=rank,
        alpha=float(peft.get("lora_alpha", defaults["alpha"])),
        temperature=defaults["temperature"],
        xattn_weight=float(peft.get("blc_weight", defaults["xattn_weight"])),
        dropout=float(peft.get("lora_dropout", defaults["dropout"])),
    )
