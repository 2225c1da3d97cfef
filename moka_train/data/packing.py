"""Sequence packing (``data.packing: true``): the samples of a micro-batch share as few rows as fit.

A micro-batch keeps its samples (the sampler decides them, as without packing), so the loss,
the optimizer step and mid-epoch resume mean what they mean unpacked; only the layout changes.
The samples are placed into rows of at most ``data.max_length`` tokens in the layout of least
compute (:func:`pack_rows`: tokens, plus attention over each whole row), each row padded to
the widest row. Per token the packed batch carries:

* ``position_ids`` LongTensor[R, W]  restarting at 0 for every sample; the padding at the end of a
                                     row restarts too, so it is a sequence of its own. The
                                     backbone's mask builder (transformers ``masking_utils``:
                                     position ids that restart, with no 2D attention mask and no
                                     cache) turns this into a block-diagonal causal mask, for eager
                                     and sdpa attention alike.
* ``segment_ids``  LongTensor[R, W]  the sample each token belongs to (its index in ``ids``), -1 on
                                     padding: the adapters' routing keeps MokA's cross-attention
                                     inside one sample with it.
* ``labels``       the first token of every sample is -100: unpacked, no token predicts it, and
                   packed, the previous sample's last token must not learn to.

``media_index`` / ``features_index`` hold the *sample* of each media item (ascending), which is
the order of its placeholders in the row-major token order.
"""

from __future__ import annotations

import torch

from ..modality import PAD
from .tokenize import IGNORE_INDEX


def pack_rows(lengths: list[int], capacity: int, attention_width: int | None = None) -> list[list[int]]:
    """Sample indices per row, every row at most ``capacity`` tokens, the cheapest layout.

    A batch of R rows padded to width W costs R·W token computations, plus attention over the
    whole row (the block-diagonal mask is applied to a dense R·W² score matrix by sdpa and
    eager attention): cost = R·W·(1 + W / attention_width), with ``attention_width`` the row
    length at which a token's attention costs what its projections cost (about 6x the hidden
    size; None: attention not counted). For each row count from the fewest that can fit, the
    samples go longest first to the emptiest row (LPT), and the cheapest wins; one row per
    sample is the padded batch, so packing never costs more than padding. Deterministic; a
    sample longer than ``capacity`` is an error (the dataset drops or refuses those first).
    """
    too_long = [i for i, n in enumerate(lengths) if n > capacity]
    if too_long:
        raise ValueError(
            f"samples {too_long} have {[lengths[i] for i in too_long]} tokens, more than data.max_length {capacity}"
        )

    def cost(rows: int, width: int) -> float:
        return rows * width * (1.0 + width / attention_width if attention_width else 1.0)

    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])  # stable: ties in input order
    longest = lengths[order[0]] if order else 0
    best, best_cost = [[i] for i in order], cost(len(order), longest)
    for count in range(max(1, -(-sum(lengths) // capacity)), len(order)):
        if cost(count, longest) >= best_cost:  # no layout of this many rows can be cheaper
            break
        rows, loads = [[] for _ in range(count)], [0] * count
        for index in order:  # one micro-batch: a handful of samples, in a loader worker
            row = loads.index(min(loads))
            rows[row].append(index)
            loads[row] += lengths[index]
        if max(loads) <= capacity and cost(count, max(loads)) < best_cost:
            best, best_cost = rows, cost(count, max(loads))
    return best


def packed_token_tensors(items: list[dict], rows: list[list[int]], pad_id: int) -> dict:
    """input_ids / labels / modality_ids / position_ids / segment_ids / attention_mask [R, W] for
    ``items`` already in packed order (row 0's samples, then row 1's, ...)."""
    sizes = [len(row) for row in rows]
    lengths = torch.tensor([len(it["input_ids"]) for it in items])  # [S]
    width = max(int(chunk.sum()) for chunk in lengths.split(sizes))
    starts = torch.cumsum(lengths, 0) - lengths  # [S] offset of each sample in the flat stream
    tokens = {key: torch.cat([it[key] for it in items]) for key in ("input_ids", "labels", "modality_ids")}
    tokens["labels"][starts] = IGNORE_INDEX
    tokens["segment_ids"] = torch.repeat_interleave(torch.arange(len(items)), lengths)
    tokens["position_ids"] = torch.arange(int(lengths.sum())) - torch.repeat_interleave(starts, lengths)
    fill = {"input_ids": pad_id, "labels": IGNORE_INDEX, "modality_ids": PAD, "segment_ids": -1}
    row_lengths = [int(chunk.sum()) for chunk in lengths.split(sizes)]
    out = {}
    for key, flat in tokens.items():
        out[key] = torch.stack([_pad_row(part, width, key, fill) for part in flat.split(row_lengths)])
    out["attention_mask"] = (out["modality_ids"] != PAD).long()  # real tokens (counts; not given to the LLM)
    return out


def _pad_row(part: torch.Tensor, width: int, key: str, fill: dict) -> torch.Tensor:
    pad = width - part.shape[0]
    if key == "position_ids":  # the padding restarts at 0: a sequence of its own, never a sample's
        return torch.cat([part, torch.arange(pad)])
    return torch.cat([part, part.new_full((pad,), fill[key])])


def padded_and_packed_tokens(
    batches: list[list[int]], capacity: int, attention_width: int | None = None
) -> dict[str, int]:
    """Useful, padded and packed token counts over micro-batches given as lists of sample lengths."""
    useful = padded = packed = 0
    for lengths in batches:
        useful += sum(lengths)
        padded += len(lengths) * max(lengths)
        rows = pack_rows(lengths, capacity, attention_width)
        packed += len(rows) * max(sum(lengths[i] for i in row) for row in rows)
    return {"useful": useful, "padded": padded, "packed": packed}


def packing_efficiency(
    lengths: list[int], order: list[int], micro_batch: int, capacity: int, attention_width: int | None = None
) -> dict:
    """Share of non-pad tokens per micro-batch, padded vs. packed, for one epoch's ``order``."""
    batches = [
        [lengths[i] for i in order[b : b + micro_batch]] for b in range(0, len(order) - micro_batch + 1, micro_batch)
    ]
    if not batches:
        return {"micro_batches": 0}
    counts = padded_and_packed_tokens(batches, capacity, attention_width)
    return {
        "micro_batches": len(batches),
        "useful_tokens": counts["useful"],
        "padded_efficiency": round(counts["useful"] / counts["padded"], 4),
        "packed_efficiency": round(counts["useful"] / counts["packed"], 4),
        "packed_vs_padded_tokens": round(counts["padded"] / counts["packed"], 3),
    }
