"""Oracle: the visual-text MokA layer as the official VisualText code computes it.

Written from the formulas of the official ``VisualText/modified_peft/tuners/lora/layer.py``
(``Linear.forward``, the ``my_text_mask`` branch), one sample at a time, in its own variables:

    u_t  = A_text · drop(x_t)          for text tokens (every token that is not an image token)
    u_t  = A_image · drop(x_t)         for image tokens                      (no scaling yet)
    u'_t = u_t + w · Σ_j softmax_j(u_t · u_j / √r) · u_j    image tokens, j over the question mask
    Δh_t = s_text · B u'_t  (text),   s_image · B u'_t  (image)             (scaling after B)

Not from our vectorised kernels (which scale the A outputs first): the equivalence test compares
the two. Slow on purpose.
"""

from __future__ import annotations

import math

import torch


def reference_vt_delta(x, image_mask, question_mask, A_text, A_image, B, scaling, attn_weight, keep=None, p=0.0):
    """x [B, T, d]; image_mask, question_mask [B, T] bool; A_* [r, d]; B [o, r] (lora_B['text'],
    the one B of both paths); scaling = lora_alpha / r of both adapters (the official recipe gives
    both the same LoraConfig); ``keep`` [B, T, d] 0/1: an inverted-dropout mask with drop rate
    ``p``, applied to the input of each A as ``lora_dropout`` does (None: no dropout)."""
    batch, tokens, _ = x.shape
    rank = B.shape[1]
    dropped = x if keep is None else x * keep / (1.0 - p)
    out = x.new_zeros(batch, tokens, B.shape[0])
    for b in range(batch):
        image, text = image_mask[b], ~image_mask[b]
        u = x.new_zeros(tokens, rank)
        u[text] = dropped[b, text] @ A_text.t()
        u[image] = dropped[b, image] @ A_image.t()
        question = question_mask[b]
        if image.any() and question.any():
            query, key = u[image], u[question]  # value = key
            score = torch.softmax(query @ key.t() / math.sqrt(rank), dim=-1)
            u[image] = u[image] + attn_weight * (score @ key)
        out[b] = (u @ B.t()) * scaling
    return out
