"""BEATs hyper-parameters under the official checkpoint's ``cfg`` key names."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from moka_train.utils.logging import get_logger

log = get_logger(__name__)

# Training-only knobs of the official config: accepted (checkpoints carry them) but irrelevant to a
# frozen feature extractor, so they are not fields.
_TRAINING_ONLY = {"layer_wise_gradient_decay_ratio", "encoder_layerdrop", "dropout_input", "predictor_dropout"}


@dataclass(frozen=True)
class BEATsConfig:
    input_patch_size: int = 16  # square conv patch on the [time, 128 mel] fbank
    embed_dim: int = 512  # patch embedding width
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_norm_first: bool = False  # pre-LN: not supported (every released BEATs is post-LN)
    deep_norm: bool = False
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    conv_pos: int = 128  # kernel of the convolutional position embedding
    conv_pos_groups: int = 16
    relative_position_embedding: bool = False
    num_buckets: int = 320
    max_distance: int = 1280
    gru_rel_pos: bool = False  # gate the relative position bias per query (WavLM style)
    finetuned_model: bool = False  # the checkpoint carries an AudioSet classification head
    predictor_class: int = 527

    @classmethod
    def from_checkpoint(cls, cfg: dict) -> BEATsConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known - _TRAINING_ONLY)
        if unknown:
            log.warning("BEATs cfg keys not used by this implementation: %s", unknown)
        return cls(**{k: v for k, v in cfg.items() if k in known})

    def to_checkpoint(self) -> dict:
        return asdict(self)
