"""How a collated batch travels from a DataLoader worker to the training process.

By default every tensor a worker returns moves through its own shared-memory segment: the worker
sends a file descriptor over a socket and the trainer maps it, a fixed cost per tensor (measured
on the tiny AV recipe: ~12 ms to receive a ready batch of ten small tensors, under load). A small
tensor is cheaper sent by value: the worker wraps it as a NumPy array, which pickles into the
result pipe as plain bytes, and :func:`received` turns it back into a tensor without a copy
(~3 ms for the same batch). Large tensors (real video clips) keep shared memory, where one
mapping beats copying megabytes through a pipe.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import get_worker_info

BY_VALUE_MAX_BYTES = 1 << 20  # up to 1 MiB a copy through the pipe is cheaper than a mapping
# dtypes NumPy holds exactly (bfloat16 has no NumPy twin: such a tensor keeps shared memory)
_BY_VALUE_DTYPES = {
    torch.bool,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.float16,
    torch.float32,
    torch.float64,
}


class _ByValue:
    """A tensor's data as a NumPy array: marks what :func:`received` turns back into a tensor
    (a batch may hold NumPy arrays of its own, which must stay arrays)."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __reduce__(self):
        return _ByValue, (self.array,)


class WorkerCollate:
    """Wraps a collate function: inside a loader worker, the small tensors of its batch are sent
    by value; in the main process (``num_workers: 0``) the batch is returned as it is."""

    def __init__(self, collate) -> None:
        self.collate = collate

    def __call__(self, samples: list) -> Any:
        batch = self.collate(samples)
        return _pack(batch) if get_worker_info() is not None else batch


def _pack(value: Any) -> Any:
    return _map_leaves(value, _to_wire)


def received(value: Any) -> Any:
    """The batch as the collate function built it: every by-value array a tensor again."""
    return _map_leaves(value, lambda leaf: torch.from_numpy(leaf.array) if isinstance(leaf, _ByValue) else leaf)


def _to_wire(leaf: Any) -> Any:
    if not isinstance(leaf, torch.Tensor) or leaf.dtype not in _BY_VALUE_DTYPES:
        return leaf
    small = leaf.numel() * leaf.element_size() <= BY_VALUE_MAX_BYTES
    return _ByValue(leaf.contiguous().numpy()) if small else leaf


def _map_leaves(value: Any, leaf_fn) -> Any:
    """``leaf_fn`` applied to every leaf of nested dicts, lists and tuples (their types kept)."""
    if isinstance(value, dict):
        return {k: _map_leaves(v, leaf_fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_map_leaves(v, leaf_fn) for v in value)
    return leaf_fn(value)
