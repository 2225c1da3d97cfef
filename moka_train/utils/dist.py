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

    if not (dist.is_available() and dist.is_initialized()):
        return flag
    tensor = torch.tensor([1 if flag else 0], device=comm_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return bool(tensor.item())


def comm_device():
    """Where collective tensors live: the local GPU under NCCL, the CPU under gloo."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")
