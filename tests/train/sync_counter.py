"""Counting device->host syncs on a CPU-only machine.

On a GPU a sync is any op whose result the host must read from a device tensor: ``.item()``,
``int()/float()/bool()`` of a tensor (``aten._local_scalar_dense``), ``.tolist()``, ``.cpu()``,
``nonzero`` / ``masked_select`` / ``unique`` (their output size). On a CPU every tensor is a host
tensor, so the counter *marks* what would live on the device: the model's parameters and buffers,
the engine's copy of each batch (``DeviceCopy``), and everything computed from them (a dispatch
mode taints the storage of every op's output that had a marked input). Ops on the loader's host
tensors (the batch before it moved, ``batch["host"]``) are not syncs and are not counted.
"""

from __future__ import annotations

import traceback
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

aten = torch.ops.aten
SIZE_READING_OPS = {aten._local_scalar_dense, aten.nonzero, aten.masked_select, aten.is_nonzero, aten.equal}
SIZE_READING_NAMES = ("unique", "_unique")
HOST_READS = ("tolist", "cpu", "numpy")


class SyncCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.device_storages: set[int] = set()
        self.syncs: Counter = Counter()
        self.where: Counter = Counter()  # file:line of the project (or test) code that synced
        self._patched: dict[str, object] = {}

    def mark(self, *tensors: torch.Tensor) -> None:
        for tensor in tensors:
            if isinstance(tensor, torch.Tensor) and tensor.numel():
                self.device_storages.add(tensor.untyped_storage().data_ptr())

    def on_device(self, tensor) -> bool:
        return (
            isinstance(tensor, torch.Tensor)
            and tensor.numel() > 0
            and tensor.untyped_storage().data_ptr() in self.device_storages
        )

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        outputs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        if any(self.on_device(t) for t in tree_leaves((args, kwargs))):
            name = func.overloadpacket.__name__
            if func.overloadpacket in SIZE_READING_OPS or name.startswith(SIZE_READING_NAMES):
                self.syncs[name] += 1
                self.where[_caller()] += 1
            self.mark(*outputs)
        else:  # a host tensor, possibly where a freed device tensor lived
            for tensor in outputs:
                if tensor.numel():
                    self.device_storages.discard(tensor.untyped_storage().data_ptr())
        return out

    def __enter__(self):
        for name in HOST_READS:  # read the data without an op the dispatch mode sees
            original = getattr(torch.Tensor, name)
            self._patched[name] = original

            def counted(tensor, *args, _name=name, _original=original, **kwargs):
                if self.on_device(tensor):
                    self.syncs[_name] += 1
                    self.where[_caller()] += 1
                return _original(tensor, *args, **kwargs)

            setattr(torch.Tensor, name, counted)
        return super().__enter__()

    def __exit__(self, *exc):
        for name, original in self._patched.items():
            setattr(torch.Tensor, name, original)
        return super().__exit__(*exc)

    @property
    def total(self) -> int:
        return sum(self.syncs.values())


def _caller() -> str:
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "moka_train" in frame.filename or "/tests/" in frame.filename or "transformers/" in frame.filename:
            return f"{frame.filename.rsplit('/', 2)[-2]}/{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
    return "?"


def device_copy(batch, counter: SyncCounter):
    """What ``to_device`` would have made on a GPU: a fresh copy of every tensor, marked as device
    memory (the ``host`` entry, the loader's own tensors, stays on the host)."""
    if isinstance(batch, torch.Tensor):
        copy = batch.clone()
        counter.mark(copy)
        return copy
    if isinstance(batch, dict):
        return {k: v if k == "host" else device_copy(v, counter) for k, v in batch.items()}
    return batch
