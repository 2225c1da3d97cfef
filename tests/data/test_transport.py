"""Batches from loader workers: small tensors travel by value, and the trainer gets back exactly
what the collate function built (values, dtypes, shapes, and the arrays that were arrays)."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from moka_train.data.transport import BY_VALUE_MAX_BYTES, WorkerCollate, _pack, received


def collate(samples: list[int]) -> dict:
    n = len(samples)
    ids = torch.tensor(samples)
    return {
        "input_ids": ids[:, None].expand(n, 5).contiguous(),
        "mask": ids[:, None] > 2,
        "media": {"audio": torch.arange(n * 7, dtype=torch.float32).view(n, 7) + ids[:, None]},
        "features": {"video": torch.full((n, 3), 0.5, dtype=torch.bfloat16)},
        "big": torch.zeros(BY_VALUE_MAX_BYTES // 4 + 1, dtype=torch.float32),
        "array": np.arange(n),
        "ids": [f"s{i}" for i in samples],
    }


def assert_same(got, want):
    if isinstance(want, torch.Tensor):
        assert isinstance(got, torch.Tensor) and got.dtype == want.dtype and torch.equal(got, want)
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray) and np.array_equal(got, want)
    elif isinstance(want, dict):
        assert got.keys() == want.keys()
        for key in want:
            assert_same(got[key], want[key])
    else:
        assert got == want


def test_pack_sends_small_tensors_by_value_and_keeps_the_rest():
    batch = collate([1, 2, 3])
    packed = _pack(batch)
    assert not isinstance(packed["input_ids"], torch.Tensor)  # by value
    assert not isinstance(packed["media"]["audio"], torch.Tensor)
    assert isinstance(packed["features"]["video"], torch.Tensor)  # bfloat16: no NumPy twin
    assert isinstance(packed["big"], torch.Tensor)  # over the limit: shared memory
    assert_same(received(packed), batch)


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_batches_equal_the_collated_batches(workers):
    data = list(range(8))
    loader = DataLoader(data, batch_size=4, collate_fn=WorkerCollate(collate), num_workers=workers)
    got = [received(b) for b in loader]
    assert len(got) == 2
    for batch, want in zip(got, (collate(data[:4]), collate(data[4:]))):
        assert_same(batch, want)
