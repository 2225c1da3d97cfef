"""The causal-LM loss computed on the trained positions only.

A causal LM's own forward projects every position onto the vocabulary and upcasts the logits to
fp32 before the cross-entropy: ``[B, T, V]`` floats (LLaMA-3: V = 128,256, ~4 GB at B = 4, T = 2,048),
kept for backward, although only the answer tokens carry a label. Here the backbone returns its
hidden states, the positions whose *next* token is labelled are gathered (the same shift the HF
loss applies), and the LM head and cross-entropy run on them in chunks of ``rows`` positions. Each
chunk is checkpointed: backward keeps its ``[rows, d]`` hidden states and recomputes its logits, so
at most one chunk's ``[rows, V]`` fp32 logits exist at a time. Under ZeRO-3, whose head is gathered
at each call (a collective), every rank calls it once per forward: one chunk of all its positions.
The result is the HF loss (mean over labelled tokens, fp32) within fp32 rounding, and its
gradients reach the head and everything before it (packed rows shift as unpacked ones: per row,
across the whole row).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ..modality import IGNORE_INDEX

# fp32 logits of one chunk: 2**25 floats (128 MiB), e.g. 261 positions of LLaMA-3's vocabulary
CHUNK_LOGIT_ELEMENTS = 2**25
# config attributes of backbones whose head does more than a linear map (softcapping, scaling):
# those keep their own forward and loss
HEAD_TRANSFORMS = ("final_logit_softcapping", "logits_scaling", "logit_scale", "output_multiplier_scale")


def plain_linear_head(llm: nn.Module) -> bool:
    """True when ``logits = lm_head(last_hidden_state)`` is the whole head of ``llm``."""
    config = getattr(llm, "config", None)
    text_config = getattr(config, "text_config", None)
    return not any(getattr(c, name, None) is not None for c in (config, text_config) for name in HEAD_TRANSFORMS)


def chunk_rows(vocab: int, budget: int = CHUNK_LOGIT_ELEMENTS) -> int:
    return max(1, budget // max(vocab, 1))


def answer_positions(labels: Tensor) -> tuple[Tensor, Tensor]:
    """(flat indices into ``[B * T]`` of the positions whose next token is labelled, their targets).
    On a device tensor this syncs once (the count sizes the chunks): pass the host copy."""
    following = torch.full_like(labels, IGNORE_INDEX)
    following[:, :-1] = labels[:, 1:]  # position t predicts token t + 1
    flat = following.reshape(-1)
    index = (flat != IGNORE_INDEX).nonzero().squeeze(1)
    return index, flat[index]


def _chunk_loss_sum(head: nn.Module, hidden: Tensor, targets: Tensor) -> Tensor:
    logits = head(hidden).float()  # [rows, V], as the HF loss upcasts
    return F.cross_entropy(logits, targets, reduction="sum")


def answer_loss(head: nn.Module, hidden: Tensor, labels: Tensor, rows: int | None = None) -> Tensor:
    """Mean cross-entropy of the labelled next tokens: hidden ``[B, T, d]``, labels ``[B, T]``
    (``IGNORE_INDEX`` where not trained; a host tensor spares a device sync). NaN when nothing is
    labelled, as the HF mean is."""
    index, targets = (t.to(hidden.device, non_blocking=True) for t in answer_positions(labels))
    flat = hidden.reshape(-1, hidden.shape[-1])
    if rows is None:  # ZeRO-3 gathers the head at each call: every rank must call it equally often
        rows = max(index.shape[0], 1) if hasattr(head.weight, "ds_id") else chunk_rows(head.weight.shape[0])
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, max(index.shape[0], 1), rows):  # a rank with no answer still calls the head
        chunk = flat.index_select(0, index[start : start + rows])
        part = targets[start : start + rows]
        if torch.is_grad_enabled():
            total = total + checkpoint(_chunk_loss_sum, head, chunk, part, use_reentrant=False)
        else:
            total = total + _chunk_loss_sum(head, chunk, part)
    return total / index.shape[0] if index.shape[0] else total / 0.0
