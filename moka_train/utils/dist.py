"""Rank helpers that work with and without torch.distributed initialised."""

from __future__ import annotations

import os


def rank() -> int:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", 0))


def world_size() -> int:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", 1))


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def init_distributed() -> None:
    """Initialise torch.distributed for deepspeed/torchrun launches and plain `python` alike."""
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("LOCAL_RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(_free_port()))
    from .jit_ops import prepare_cpu_comm, use_venv_extensions_dir

    use_venv_extensions_dir()  # DeepSpeed's JIT ops build in this venv, not the shared ~/.cache
    import deepspeed

    if not torch.cuda.is_available():  # its CPU backend would build a shared-memory op first
        prepare_cpu_comm(int(os.environ["WORLD_SIZE"]))
    deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def all_reduce_mean(value: float) -> float:
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=comm_device())
    dist.all_reduce(tensor)
    return float(tensor) / dist.get_world_size()


def all_true(flag: bool) -> bool:
    """True only if every rank says True (so all ranks take the same branch)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag  # one rank agrees with itself: no collective, no host sync
    tensor = torch.tensor([1 if flag else 0], device=comm_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return bool(tensor.item())


def comm_device():
    """Where collective tensors live: the local GPU under NCCL, the CPU under gloo."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def shared_output(directory) -> bool:
    """Whether every rank sees the files global rank 0 writes under ``directory`` (one shared
    filesystem) or not (node-local disks: each node's local rank 0 must write its own copy of the
    checkpoint bookkeeping and exports). Every rank calls this (two barriers, one all-reduce)."""
    import secrets
    from pathlib import Path

    if world_size() == 1:
        return True
    probe = Path(directory) / ".moka_shared_probe"
    probe.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    if is_main():
        probe.write_text(token)
    barrier()
    expected = broadcast_text(token)  # every rank takes part in the collective
    seen = probe.read_text() if probe.is_file() else ""
    shared = all_true(seen == expected)
    barrier()
    if is_main():
        probe.unlink(missing_ok=True)
    return shared


def broadcast_text(text: str) -> str:
    """Global rank 0's ``text`` on every rank."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return text
    holder = [text if is_main() else None]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def writes_outputs(shared: bool) -> bool:
    """This rank writes the run's shared bookkeeping: global rank 0 on a shared filesystem, each
    node's local rank 0 on node-local disks."""
    return is_main() if shared else local_rank() == 0
