"""`model:` — the LLM backbone and, per non-text modality, its encoder and projector."""

from typing import Literal

from pydantic import Field, ValidationError, model_validator

from ...utils.media_sampling import SamplingPlan
from ..backbones import BACKBONES, backbone, is_native_vision
from .base import Section

# every supported audio encoder (BEATs, Whisper) was trained on 16 kHz: the one audio rate of the
# project, used by decoding, window cutting and the encoders' front ends (not a setting)
AUDIO_SAMPLE_RATE = 16000
WHISPER_WINDOW_SECONDS = 30.0  # whisper pads or trims every input to this
AUDIO_ENCODERS = ("beats", "whisper")


class EncoderConfig(Section):
    type: Literal["clip_open_clip", "clip_hf", "beats", "whisper", "qwen2_5_vl_vision"]
    path: str  # local checkpoint file or directory; never a hub id
    model_name: str | None = None  # open_clip architecture name (e.g. ViT-L-14)
    layer: int = -2  # hidden layer whose patch tokens are used (CLIP: penultimate)
    frozen: bool = True
    # an mlp projector keeps every encoder token: its placeholder length comes from here, without
    # loading the encoder (the model checks the built encoder emits this many)
    tokens: int | None = Field(None, gt=0)  # tokens per frame/segment (CLIP ViT-L/14 at 224 px: 256); mlp needs it


class ProjectorConfig(Section):
    type: Literal["mlp", "qformer"] = "qformer"
    num_queries: int = Field(32, gt=0)  # Q-Former learnable queries per frame/segment
    num_layers: int = Field(2, gt=0)
    hidden_size: int = Field(768, gt=0)  # Q-Former width (BERT-base in the paper)
    num_heads: int = Field(12, gt=0)
    per_frame: bool = True  # video/audio: project each frame/segment separately

    def output_tokens(self, frames: int, encoder_tokens: int | None) -> int:
        """LLM tokens one item of ``frames`` frames/segments becomes, the one rule: Q-Former
        ``num_queries`` per frame (in all when not per frame); MLP one per encoder token."""
        if self.type == "qformer":
            return self.num_queries * (frames if self.per_frame else 1)
        if encoder_tokens is None:
            raise ValueError("an mlp projector emits one token per encoder token: set encoder.tokens")
        return frames * encoder_tokens


class MediaSampling(Section):
    """Which instants of a clip are encoded (moka_train/utils/media_sampling.py)."""

    frame_position: Literal["start", "centre"] = "centre"  # video: frame at each segment's start (official) or centre
    # window k starts lead seconds before its anchor: k x segment_seconds (consecutive, as AVE) or
    # k x clip length / frames (spread, as MUSIC-AVQA)
    window_placement: Literal["consecutive", "spread"] = "consecutive"  # audio: anchor k·W or k·clip/frames
    window_lead_seconds: float = Field(0.0, ge=0)  # audio: a window starts this long before its anchor
    time_unit: Literal["real", "nominal"] = "real"  # audio: nominal = one second is clip samples / nominal_seconds
    nominal_seconds: float | None = Field(None, gt=0)  # audio: the clip length the data promises (60, 10)


class ModalityConfig(Section):
    name: str
    placeholder: str  # e.g. "<video>"; expanded to the projector's token count
    encoder: EncoderConfig
    projector: ProjectorConfig = ProjectorConfig()
    frames: int = Field(1, gt=0)  # video frames / audio windows per sample (1 for images)
    segment_seconds: float = Field(1.0, gt=0)  # audio window length
    sampling: MediaSampling = MediaSampling()
    # text the prompt puts around the placeholder, tokens of the model's own vocabulary kept in the
    # sequence as text (Qwen2.5-VL: ["<|vision_start|>", "<|vision_end|>"]); None: the placeholder alone
    wrap: tuple[str, str] | None = None
    # an `image` record through a video modality's encoder and projector, as the official pretraining
    # encodes an image: a 1-frame video (unified_arch.py, '<image>' -> encode_video)
    accepts: tuple[str, ...] = ()  # other record keys read as this modality, one frame each (needs frames: 1)

    @property
    def is_audio(self) -> bool:
        return self.encoder.type in AUDIO_ENCODERS

    @model_validator(mode="after")
    def _check_sampling(self) -> "ModalityConfig":
        where, chosen = f"model.modalities[{self.name}].sampling", self.sampling.model_fields_set
        audio_only = sorted(chosen - {"frame_position"})
        if self.is_audio and "frame_position" in chosen:
            raise ValueError(f"{where}.frame_position applies to video encoders, not {self.encoder.type}")
        if not self.is_audio and audio_only:
            raise ValueError(f"{where}: {audio_only} apply to audio encoders (beats, whisper), not {self.encoder.type}")
        if (self.sampling.time_unit == "nominal") != (self.sampling.nominal_seconds is not None):
            raise ValueError(
                f"{where}: time_unit 'nominal' needs nominal_seconds and nominal_seconds needs "
                f"time_unit 'nominal' (got {self.sampling.time_unit!r}, {self.sampling.nominal_seconds})"
            )
        if self.sampling.time_unit == "nominal" and self.projector.type == "mlp":
            raise ValueError(
                f"{where}: nominal seconds make the window length (and the encoder's token count) "
                "follow each clip's length; the mlp projector needs a fixed count: use qformer"
            )
        if self.encoder.type == "whisper" and self.segment_seconds > WHISPER_WINDOW_SECONDS:
            raise ValueError(
                f"model.modalities[{self.name}].segment_seconds={self.segment_seconds}: whisper "
                f"encodes at most {WHISPER_WINDOW_SECONDS:g} s per window; use more frames instead"
            )
        return self

    @model_validator(mode="after")
    def _check_accepts(self) -> "ModalityConfig":
        if not self.accepts:
            return self
        if self.name in self.accepts or self.is_audio or self.frames != 1:
            raise ValueError(
                f"model.modalities[{self.name}].accepts={list(self.accepts)}: another record key (not "
                f"{self.name!r}) read as one frame of a visual modality: needs a visual encoder and frames: 1 "
                f"(got {self.encoder.type}, frames {self.frames})"
            )
        return self

    @model_validator(mode="after")
    def _check_token_count(self) -> "ModalityConfig":
        if self.projector.type == "mlp" and self.encoder.tokens is None:
            raise ValueError(
                f"model.modalities[{self.name}]: an mlp projector keeps every encoder token, so the placeholder "
                "length needs encoder.tokens (tokens per frame/segment, e.g. 256 for CLIP ViT-L/14 at 224 px)"
            )
        return self

    def media_tokens(self) -> int:
        """What this modality's placeholder expands to: the one count the data side and the model use."""
        return self.projector.output_tokens(self.frames, self.encoder.tokens)

    def sampling_plan(self) -> SamplingPlan:
        """The plan data loading, the model and the feature cache all follow."""
        s = self.sampling
        return SamplingPlan(
            kind="audio" if self.is_audio else "visual",
            count=self.frames,
            frame_position=s.frame_position,
            window_seconds=self.segment_seconds,
            placement=s.window_placement,
            lead_seconds=s.window_lead_seconds,
            time_unit=s.time_unit,
            nominal_seconds=s.nominal_seconds,
            sample_rate=AUDIO_SAMPLE_RATE,
        )


class StageMedia(Section):
    """One modality's media plan in one stage (``stages[i].media.<modality>``): each key given
    replaces the model's value for that stage only (the last stage keeps the model's plan)."""

    frames: int | None = Field(None, gt=0)  # video frames / audio windows per sample in this stage
    segment_seconds: float | None = Field(None, gt=0)  # audio window length in this stage
    sampling: MediaSampling | None = None  # replaces the modality's whole sampling block (unset keys: defaults)
    accepts: tuple[str, ...] | None = None  # record keys read as this modality in this stage (e.g. [image])


def with_stage_media(model: "ModelConfig", media: dict[str, StageMedia], where: str) -> "ModelConfig":
    """``model`` with the stage's per-modality overrides applied, each modality re-validated (so
    a plan that cannot work, e.g. nominal seconds with an mlp projector, fails by the stage key)."""
    names = [m.name for m in model.modalities]
    unknown = sorted(set(media) - set(names))
    if unknown:
        raise ValueError(f"{where}.media: {unknown} not in model.modalities {names}")
    if not media:
        return model
    modalities = []
    for m in model.modalities:
        override = media.get(m.name)
        if override is None:
            modalities.append(m)
            continue
        given = override.model_dump(exclude_unset=True, exclude_none=True)
        try:
            modalities.append(ModalityConfig.model_validate({**m.model_dump(exclude_unset=True), **given}))
        except ValidationError as err:
            problems = "; ".join(e["msg"] for e in err.errors())
            raise ValueError(f"{where}.media.{m.name}: {problems}") from None
    return model.model_copy(update={"modalities": tuple(modalities)})


class ModelConfig(Section):
    llm_path: str  # local directory in from_pretrained format
    tokenizer_path: str | None = None  # defaults to llm_path
    dtype: Literal["float32", "bfloat16", "float16"] = "bfloat16"
    modalities: tuple[ModalityConfig, ...] = ()
    gradient_checkpointing: bool = False
    # causal_lm: a text LLM, every modality through its encoder + projector; qwen2_5_vl: a
    # Qwen2_5_VLForConditionalGeneration whose own frozen vision path makes the video tokens
    # (encoder.type qwen2_5_vl_vision, no projector), the other modalities spliced as for causal_lm
    backbone: Literal["causal_lm", "qwen2_5_vl"] = "causal_lm"
    native_frame_size: int = Field(224, gt=0)  # qwen2_5_vl: side of the frames the data delivers (data.image_size)

    @model_validator(mode="after")
    def _check_backbone(self) -> "ModelConfig":
        native = backbone(self.backbone).native_vision
        foreign = [m for m in self.modalities if is_native_vision(m.encoder.type) and m.encoder.type != native]
        if foreign:
            kind = foreign[0].encoder.type
            owner = next(b.name for b in BACKBONES.values() if b.native_vision == kind)
            raise ValueError(
                f"model.modalities {[m.name for m in foreign]}: encoder.type {kind} is the vision path of a "
                f"vision-language backbone; set model.backbone: {owner} (got {self.backbone!r})"
            )
        uses = [m.name for m in self.modalities if native is not None and m.encoder.type == native]
        unfrozen = [m.name for m in self.modalities if is_native_vision(m.encoder.type) and not m.encoder.frozen]
        if unfrozen:
            raise ValueError(
                f"model.modalities {unfrozen}: encoder.frozen: false, but the backbone's own vision "
                "path is part of the frozen LLM and never trains; remove encoder.frozen"
            )
        if native is not None and len(uses) != 1:
            raise ValueError(
                f"model.backbone {self.backbone}: exactly one modality (the video) must use its own "
                f"vision path, encoder.type {native}; got {uses or 'none'}"
            )
        return self
