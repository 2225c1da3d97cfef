"""Oracle: the official MokA projector (VLProjector / ALProjector of AudioVisualText/models/
multimodal_encoder.py, BLIP-2's Q-Former of models/Qformer.py) computed from its own key names.

Written from the official module definitions as plain tensor algebra (eval mode, queries only,
as MokA calls it: no question text): post-LN BERT layers whose queries self-attend, cross-attend
to the encoder features, then pass the query feed-forward (intermediate_query / output_query).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

BERT_EPS = 1e-12  # BertConfig.layer_norm_eps
LN_EPS = 1e-5  # nn.LayerNorm default (visual_ln / audio_ln)


def _linear(sd, name, x):
    return F.linear(x, sd[f"{name}.weight"], sd[f"{name}.bias"])


def _norm(sd, name, x, eps=BERT_EPS):
    return F.layer_norm(x, x.shape[-1:], sd[f"{name}.weight"], sd[f"{name}.bias"], eps)


def _attention(sd, name, hidden, context, heads):
    """BertAttention: multi-head scaled dot product, then dense + residual + LayerNorm."""

    def split(t):  # [b, n, H] -> [b, heads, n, H/heads]
        return t.view(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)

    q, k, v = (
        split(_linear(sd, f"{name}.self.{p}", src))
        for p, src in (("query", hidden), ("key", context), ("value", context))
    )
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    merged = (weights @ v).transpose(1, 2).reshape(hidden.shape)
    return _norm(sd, f"{name}.output.LayerNorm", _linear(sd, f"{name}.output.dense", merged) + hidden)


def official_projector(sd: dict, stem: str, features: torch.Tensor, heads: int) -> torch.Tensor:
    """features [B, F, L, D] (one row of L tokens per frame / segment) -> [B, F*N, d_model]."""
    b, f, n, d = features.shape
    x = F.layer_norm(features.reshape(b * f, n, d), (d,), sd[f"{stem}_ln.weight"], sd[f"{stem}_ln.bias"], LN_EPS)
    queries = sd[f"{stem}_query_tokens"].expand(b * f, -1, -1)
    bert = f"{stem}_Qformer.bert"
    h = _norm(sd, f"{bert}.embeddings.LayerNorm", queries)  # no input_ids: the embeddings are the queries
    layer = 0
    while f"{bert}.encoder.layer.{layer}.attention.self.query.weight" in sd:
        name = f"{bert}.encoder.layer.{layer}"
        h = _attention(sd, f"{name}.attention", h, h, heads)
        h = _attention(sd, f"{name}.crossattention", h, x, heads)
        inner = F.gelu(_linear(sd, f"{name}.intermediate_query.dense", h))
        h = _norm(sd, f"{name}.output_query.LayerNorm", _linear(sd, f"{name}.output_query.dense", inner) + h)
        layer += 1
    out = _linear(sd, f"{stem}_proj.2", F.gelu(_linear(sd, f"{stem}_proj.0", h)))
    return out.reshape(b, -1, out.shape[-1])
