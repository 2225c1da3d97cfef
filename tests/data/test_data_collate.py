"""Collate: padding on either side keeps labels and modality ids aligned with their tokens;
media are stacked per modality with the batch row each item belongs to."""

from __future__ import annotations

import pytest
import torch

from moka_train.data.collate import Collator
from moka_train.modality import PAD


def item(sid, ids, mids, media):
    ids = torch.tensor(ids)
    return {
        "id": sid,
        "input_ids": ids,
        "labels": ids.clone(),
        "modality_ids": torch.tensor(mids),
        "media": media,
        "bad_samples": [{"reason": "unreadable_media", "id": f"before_{sid}"}] if sid == "b" else [],
    }


@pytest.fixture
def items():
    video = lambda v: torch.full((2, 4, 4, 3), v, dtype=torch.uint8)  # noqa: E731
    return [
        item("a", [5, 9, 9, 6], [0, 2, 2, 1], {"video": video(1), "audio": torch.ones(3)}),
        item("b", [7, 8], [0, 1], {}),
        item("c", [5, 9, 9, 6, 6, 4], [0, 2, 2, 1, 1, 0], {"video": video(3), "audio": torch.ones(5)}),
    ]


@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_keeps_ids_labels_and_modality_ids_aligned(items, side):
    batch = Collator(pad_id=0, padding_side=side)(items)
    assert batch["input_ids"].shape == (3, 6)
    for row, it in enumerate(items):
        n = it["input_ids"].numel()
        real = slice(6 - n, 6) if side == "left" else slice(0, n)
        assert torch.equal(batch["input_ids"][row, real], it["input_ids"])
        assert torch.equal(batch["modality_ids"][row, real], it["modality_ids"])
        assert torch.equal(batch["labels"][row, real], it["labels"])
        assert batch["attention_mask"][row].sum() == n and batch["attention_mask"][row, real].all()
    pad = batch["attention_mask"] == 0
    assert (batch["modality_ids"][pad] == PAD).all() and (batch["labels"][pad] == -100).all()
    assert (batch["input_ids"][pad] == 0).all()
    if side == "left":  # the last position is a real token in every row (generation starts there)
        assert batch["attention_mask"][:, -1].all()


def test_media_stacked_with_batch_rows(items):
    batch = Collator(pad_id=0)(items)
    assert batch["media"]["video"].shape == (2, 2, 4, 4, 3)
    assert batch["media_index"]["video"].tolist() == [0, 2]
    assert batch["media"]["video"][1].unique().tolist() == [3]  # row 2's clip, not row 0's
    assert batch["media"]["audio"].shape == (2, 5) and batch["media_lengths"]["audio"].tolist() == [3, 5]
    assert batch["media"]["audio"][0, 3:].abs().sum() == 0  # zero padding after the real samples
    assert batch["ids"] == ["a", "b", "c"]
    assert batch["bad_samples"] == [{"reason": "unreadable_media", "id": "before_b"}]


def test_placeholder_count_per_row_matches_media_rows(items):
    # the model scatters media features row-major: items of a modality must follow the rows
    batch = Collator(pad_id=0, padding_side="left")(items)
    rows_with_video = (batch["modality_ids"] == 2).any(dim=1).nonzero().flatten().tolist()
    assert rows_with_video == batch["media_index"]["video"].tolist()
