"""Test-only: writes a CTranslate2 Whisper ``model.bin`` (binary version 6) from an openai-whisper
model, so the converter is checked on a tiny random model without the real weights. The name
mapping here runs the other way (openai-whisper -> CTranslate2) and is written independently."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import torch

DTYPE_CODES = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int32): 3, np.dtype(np.float16): 4}


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_ct2(path: Path, variables: dict[str, np.ndarray], spec: str = "WhisperSpec", version: int = 6) -> Path:
    chunks = [struct.pack("<I", version), _string(spec), struct.pack("<I", 3), struct.pack("<I", len(variables))]
    for name, array in variables.items():
        array = np.ascontiguousarray(array)
        chunks += [_string(name), struct.pack("<B", array.ndim), *(struct.pack("<I", d) for d in array.shape)]
        chunks += [struct.pack("<B", DTYPE_CODES[array.dtype]), struct.pack("<I", array.nbytes), array.tobytes()]
    chunks.append(struct.pack("<I", 0))  # no aliases
    path.write_bytes(b"".join(chunks))
    return path


def whisper_to_ct2(model, dtype=np.float32) -> dict[str, np.ndarray]:
    """The variables CTranslate2 stores for an openai-whisper model's encoder (+ the decoder
    shapes the converter reads for ``dims``)."""
    sd = {k: v.detach().numpy().astype(dtype) for k, v in model.state_dict().items()}
    out = {"encoder/num_heads": np.array(model.dims.n_audio_head, dtype=np.int32)}
    for conv in ("conv1", "conv2"):
        out[f"encoder/{conv}/weight"], out[f"encoder/{conv}/bias"] = (
            sd[f"encoder.{conv}.weight"],
            sd[f"encoder.{conv}.bias"],
        )
    out["encoder/position_encodings/encodings"] = sd["encoder.positional_embedding"]
    for i in range(model.dims.n_audio_layer):
        p, q = f"encoder.blocks.{i}", f"encoder/layer_{i}"
        k_bias = np.zeros_like(sd[f"{p}.attn.query.bias"])
        out[f"{q}/self_attention/linear_0/weight"] = np.concatenate(
            [sd[f"{p}.attn.{n}.weight"] for n in ("query", "key", "value")]
        )
        out[f"{q}/self_attention/linear_0/bias"] = np.concatenate(
            [sd[f"{p}.attn.query.bias"], k_bias, sd[f"{p}.attn.value.bias"]]
        )
        for ct2, ours in (
            ("self_attention/linear_1", "attn.out"),
            ("ffn/linear_0", "mlp.0"),
            ("ffn/linear_1", "mlp.2"),
        ):
            out[f"{q}/{ct2}/weight"], out[f"{q}/{ct2}/bias"] = sd[f"{p}.{ours}.weight"], sd[f"{p}.{ours}.bias"]
        for ct2, ours in (("self_attention/layer_norm", "attn_ln"), ("ffn/layer_norm", "mlp_ln")):
            out[f"{q}/{ct2}/gamma"], out[f"{q}/{ct2}/beta"] = sd[f"{p}.{ours}.weight"], sd[f"{p}.{ours}.bias"]
    out["encoder/layer_norm/gamma"], out["encoder/layer_norm/beta"] = (
        sd["encoder.ln_post.weight"],
        sd["encoder.ln_post.bias"],
    )
    out["decoder/embeddings/weight"] = sd["decoder.token_embedding.weight"]
    out["decoder/position_encodings/encodings"] = sd["decoder.positional_embedding"]
    for i in range(model.dims.n_text_layer):
        out[f"decoder/layer_{i}/ffn/layer_norm/gamma"] = sd[f"decoder.blocks.{i}.mlp_ln.weight"]
    return out


def state_dict_of(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["model_state_dict"]
