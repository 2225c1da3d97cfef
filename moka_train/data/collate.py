"""Batch items of :class:`MultimodalDataset`: pad token tensors, stack media per modality.

Batch keys (the contract with the model):

* ``input_ids``      LongTensor[B, T]  padded with the tokenizer's pad id
* ``labels``         LongTensor[B, T]  -100 on padding and every untrained token
* ``modality_ids``   LongTensor[B, T]  -1 (``PAD``) on padding
* ``attention_mask`` LongTensor[B, T]  1 on real tokens
* ``media``          dict name -> Tensor[N_m, ...] raw media of modality m, N_m items in the batch
                     (video/image: uint8 [N, F, H, W, 3]; audio: float32 [N, S], zero-padded)
* ``media_index``    dict name -> LongTensor[N_m]: the batch row each media item belongs to,
                     ascending, so row-major placeholder order matches item order
* ``media_lengths``  dict name -> LongTensor[N_m]: valid length along dim 1 (frames or samples)
* ``features``, ``features_index``  the same for items whose frozen-encoder features came from
                     the feature cache: float [N, F, L, D] (a modality may have both kinds in a batch)
* ``ids``, ``meta``  lists (sample ids, the record's extra fields)
* ``bad_samples``    list of dicts: media failures met while building this batch, for
                     ``DataReport.update`` in the main process

Left padding (generation) pads ids, labels and modality ids on the same side, so modality ids
stay aligned with their tokens. With ``packing_length`` (``data.packing``, training only) the
samples share rows of at most that many tokens and the batch adds ``position_ids`` and
``segment_ids`` [R, W] (see :mod:`moka_train.data.packing`); ``ids`` and ``meta`` are then in
packed order, the order of ``segment_ids``.
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pad_sequence

from ..modality import PAD
from .packing import pack_rows, packed_token_tensors
from .tokenize import IGNORE_INDEX


class Collator:
    """Picklable collate function (DataLoader workers)."""

    def __init__(
        self,
        pad_id: int,
        padding_side: str = "right",
        packing_length: int | None = None,
        attention_width: int | None = None,
    ):
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if pad_id is None:
            raise ValueError("the tokenizer has no pad token; set tokenizer.pad_token (e.g. to eos) before collating")
        if packing_length is not None and padding_side != "right":
            raise ValueError("packing is for training (right padding); generation batches are never packed")
        self.pad_id, self.padding_side, self.packing_length = pad_id, padding_side, packing_length
        self.attention_width = attention_width  # see data.packing.pack_rows

    def __call__(self, items: list[dict]) -> dict:
        if self.packing_length is not None:
            rows = pack_rows([len(it["input_ids"]) for it in items], self.packing_length, self.attention_width)
            items = [items[i] for row in rows for i in row]  # packed order: row by row
            batch = packed_token_tensors(items, rows, self.pad_id)
        else:
            batch = {
                "input_ids": self._pad([it["input_ids"] for it in items], self.pad_id),
                "labels": self._pad([it["labels"] for it in items], IGNORE_INDEX),
                "modality_ids": self._pad([it["modality_ids"] for it in items], PAD),
            }
            batch["attention_mask"] = (batch["modality_ids"] != PAD).long()  # every real token has an id >= 0
        batch["media"], batch["media_index"], batch["media_lengths"] = _stack_media(items)
        batch["features"], batch["features_index"], _ = _stack_media(items, key="features")
        batch["ids"] = [it["id"] for it in items]
        batch["meta"] = [it.get("meta", {}) for it in items]
        batch["bad_samples"] = [b for it in items for b in it.get("bad_samples", [])]
        return batch

    def _pad(self, seqs: list[torch.Tensor], value: int) -> torch.Tensor:
        return pad_sequence(seqs, batch_first=True, padding_value=value, padding_side=self.padding_side)


def _stack_media(items: list[dict], key: str = "media") -> tuple[dict, dict, dict]:
    names = sorted({name for it in items for name in it.get(key, {})})
    media, index, lengths = {}, {}, {}
    for name in names:
        rows = [b for b, it in enumerate(items) if name in it.get(key, {})]
        tensors = [items[b][key][name] for b in rows]
        index[name] = torch.tensor(rows, dtype=torch.long)
        lengths[name] = torch.tensor([t.shape[0] for t in tensors], dtype=torch.long)
        # equal shapes (frames, images) stack; variable-length audio is zero-padded at the end
        media[name] = pad_sequence(tensors, batch_first=True, padding_value=0)
    return media, index, lengths
