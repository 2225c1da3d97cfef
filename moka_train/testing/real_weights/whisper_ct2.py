"""CTranslate2 Whisper ``model.bin`` -> the openai-whisper checkpoint ``moka_train.encoders.whisper``
loads: ``{"dims": ModelDimensions fields, "model_state_dict": {"encoder.*": tensor}}``.

Only the encoder is converted (the project never runs Whisper's text decoder); the decoder's
dimensions are still read so ``dims`` is complete. Every ``encoder/*`` variable must be used by
the mapping, and the checkpoint is checked against whisper's ``AudioEncoder`` strictly.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from .ct2 import CT2Model, read_ct2

ENCODER_SCALARS = {"encoder/num_heads"}  # metadata, not weights


def _layer_count(variables: dict, side: str) -> int:
    """Blocks are ``<side>/layer_<i>/...``; ``<side>/layer_norm`` is the final norm, not a block."""
    return len({name.split("/")[1] for name in variables if re.match(rf"{side}/layer_\d+/", name)})


def encoder_state(model: CT2Model) -> dict[str, torch.Tensor]:
    """openai-whisper ``encoder.*`` names -> float32 tensors; every encoder variable consumed."""
    v = model.variables
    if any(name.endswith("weight_scale") for name in v):
        raise ValueError("quantised CTranslate2 model (weight_scale present): convert a float16/float32 model")
    used: set[str] = set(ENCODER_SCALARS)
    state: dict[str, torch.Tensor] = {}

    def take(name: str) -> torch.Tensor:
        used.add(name)
        return torch.from_numpy(np.array(v[name], dtype=np.float32))

    def copy(target: str, source: str, gamma_beta: bool = False) -> None:
        weight, bias = ("gamma", "beta") if gamma_beta else ("weight", "bias")
        state[f"{target}.weight"], state[f"{target}.bias"] = take(f"{source}/{weight}"), take(f"{source}/{bias}")

    copy("encoder.conv1", "encoder/conv1")
    copy("encoder.conv2", "encoder/conv2")
    state["encoder.positional_embedding"] = take("encoder/position_encodings/encodings")
    for i in range(_layer_count(v, "encoder")):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        _split_qkv(
            state,
            f"{dst}.attn",
            take(f"{src}/self_attention/linear_0/weight"),
            take(f"{src}/self_attention/linear_0/bias"),
        )
        copy(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        copy(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm", gamma_beta=True)
        copy(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        copy(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        copy(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm", gamma_beta=True)
    copy("encoder.ln_post", "encoder/layer_norm", gamma_beta=True)
    unused = sorted(name for name in v if name.startswith("encoder/") and name not in used)
    if unused:
        raise ValueError(f"CTranslate2 encoder variables the conversion does not map: {unused}")
    return state


def _split_qkv(state: dict, prefix: str, weight: torch.Tensor, bias: torch.Tensor) -> None:
    """CTranslate2 fuses q, k, v into one [3d, d] projection; whisper's key has no bias (a key bias
    adds one constant per query to every logit, which softmax removes, so dropping it is exact)."""
    q, k, val = weight.chunk(3, dim=0)
    qb, _, vb = bias.chunk(3, dim=0)
    state.update({f"{prefix}.query.weight": q, f"{prefix}.key.weight": k, f"{prefix}.value.weight": val})
    state.update({f"{prefix}.query.bias": qb, f"{prefix}.value.bias": vb})


def dimensions(model: CT2Model) -> dict[str, int]:
    """openai-whisper ``ModelDimensions`` fields read from the variables' shapes."""
    v = model.variables
    width, n_mels = v["encoder/conv1/weight"].shape[:2]
    return dict(
        n_mels=int(n_mels),
        n_audio_ctx=int(v["encoder/position_encodings/encodings"].shape[0]),
        n_audio_state=int(width),
        n_audio_head=int(np.asarray(v["encoder/num_heads"]).reshape(-1)[0]),
        n_audio_layer=_layer_count(v, "encoder"),
        n_vocab=int(v["decoder/embeddings/weight"].shape[0]),
        n_text_ctx=int(v["decoder/position_encodings/encodings"].shape[0]),
        n_text_state=int(v["decoder/embeddings/weight"].shape[1]),
        n_text_head=int(np.asarray(v.get("decoder/num_heads", v["encoder/num_heads"])).reshape(-1)[0]),
        n_text_layer=_layer_count(v, "decoder"),
    )


def convert_whisper_ct2(model_bin: Path, output: Path) -> dict[str, int]:
    """Writes the checkpoint to ``output`` (torch.save of tensors and ints only: loads with
    ``weights_only=True``), after checking it against whisper's AudioEncoder strictly."""
    from whisper.model import AudioEncoder

    from ...encoders.base import load_strict

    model = read_ct2(model_bin)
    dims, state = dimensions(model), encoder_state(model)
    encoder = AudioEncoder(
        dims["n_mels"], dims["n_audio_ctx"], dims["n_audio_state"], dims["n_audio_head"], dims["n_audio_layer"]
    )
    prefix = "encoder."
    load_strict(encoder, {k[len(prefix) :]: t for k, t in state.items()}, f"{model_bin} converted")
    torch.save({"dims": dims, "model_state_dict": state}, output)
    return dims
