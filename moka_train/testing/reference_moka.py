"""Oracle: MokA as the official code computes it, one sample and one modality at a time.

Written from DESIGN §3 only (not from our vectorised kernels). Slow on purpose; used by the
equivalence tests and as the baseline of the adapter benchmark (``moka_train.bench.adapters``).
"""

from __future__ import annotations

import math

import torch

TEXT, QUERY, FIRST_MEDIA = 0, 1, 2


def reference_moka_delta(x, modality_ids, A_list, B, scale, weight, temperature="paper", xattn=True):
    """x [B, T, d]; modality_ids [B, T]; A_list[0] text, A_list[i] the i-th non-text modality."""
    batch, tokens, _ = x.shape
    rank = B.shape[1]
    out = x.new_zeros(batch, tokens, B.shape[0])
    for b in range(batch):
        ids = modality_ids[b]
        a = x.new_zeros(tokens, rank)
        text_like = (ids == TEXT) | (ids == QUERY) | (ids < 0)
        a[text_like] = scale * (x[b, text_like] @ A_list[0].t())
        for m in range(1, len(A_list)):
            mask = ids == FIRST_MEDIA + m - 1
            a[mask] = scale * (x[b, mask] @ A_list[m].t())
        keys = a[ids == QUERY]
        if xattn and keys.shape[0] > 0:
            tau = _tau(temperature, rank, scale, keys.shape[0])
            mixed = a.clone()
            for m in range(1, len(A_list)):
                mask = ids == FIRST_MEDIA + m - 1
                if mask.any():
                    attn = torch.softmax(a[mask] @ keys.t() / tau, dim=-1)
                    mixed[mask] = a[mask] + weight * attn @ keys
            a = mixed
        out[b] = a @ B.t()
    return out


def _tau(kind, rank, scale, num_query):
    if kind == "paper":  # √r on *unscaled* A outputs: a/s · a/s / √r
        return scale * scale * math.sqrt(rank)
    if kind == "official":
        return math.sqrt(rank)
    return math.sqrt(num_query)
