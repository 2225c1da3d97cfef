"""DeepSpeed's JIT-compiled C++ ops: built per virtual environment, announced before they build,
and not built at all where a run does not need them.

DeepSpeed compiles some ops with the system C++ compiler the first time they load (torch's
``cpp_extension``): ``deepspeed_shm_comm`` (the shared-memory all-reduce its CPU backend sets up
whenever its communication backend starts) and ``cpu_adam`` (``train.deepspeed.offload_optimizer``).
On 2 loaded cores the first build of ``deepspeed_shm_comm`` took minutes with no message, in
the shared ``~/.cache/torch_extensions`` where a second checkout waited on another's lock.

* The build directory is ``<venv>/torch_extensions`` (``TORCH_EXTENSIONS_DIR`` unless the user
  set it): one per environment, removed with it.
* A CPU run does not need the shared-memory op (one process has no peer to share memory with;
  several CPU ranks are demos and tests, where gloo's all-reduce is enough): it is marked
  unavailable, so DeepSpeed's backend uses plain torch.distributed (gloo) without building it.
* Any op that will be built is announced first (what, where, that it is a one-time compile).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .logging import get_logger

log = get_logger(__name__)
SHM_COMM = "deepspeed_shm_comm"
CPU_ADAM = "cpu_adam"
FIRST_BUILD = "a one-time C++ compile (needs a C++ compiler, g++); minutes on a few cores; later runs load it"


def use_venv_extensions_dir() -> Path:
    """Where torch builds JIT extensions: ``TORCH_EXTENSIONS_DIR`` if set, else inside the venv."""
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(Path(sys.prefix) / "torch_extensions"))
    return Path(os.environ["TORCH_EXTENSIONS_DIR"])


def is_built(name: str) -> bool:
    """A compiled ``<name>.so`` where torch builds it under a set ``TORCH_EXTENSIONS_DIR``."""
    return (use_venv_extensions_dir() / name / f"{name}.so").is_file()


def announce_op(name: str, what: str) -> None:
    """Say, before DeepSpeed loads op ``name``, whether it is loaded or compiled, and where."""
    root = use_venv_extensions_dir()
    if is_built(name):
        log.info("DeepSpeed op %s (%s): loading the build in %s", name, what, root)
    else:
        log.warning("DeepSpeed op %s (%s): building it in %s now: %s", name, what, root, FIRST_BUILD)


def prepare_cpu_comm(world_size: int) -> None:
    """Before DeepSpeed's CPU communication backend starts: skip its shared-memory op (gloo does
    the collectives: one process has nothing to share with, and the CPU runs here are demos and
    tests where its speed-up is nil); ``MOKA_DEEPSPEED_SHM=1`` builds it for several ranks, announced."""
    import deepspeed.ops

    compatible = deepspeed.ops.__compatible_ops__  # one dict, kept by DeepSpeed: edits persist
    if world_size > 1 and os.environ.get("MOKA_DEEPSPEED_SHM") == "1" and compatible.get(SHM_COMM, False):
        announce_op(SHM_COMM, f"shared-memory all-reduce between the {world_size} CPU ranks")
        return
    compatible[SHM_COMM] = False
    log.info(
        "%s on the CPU: DeepSpeed's shared-memory all-reduce (%s) is not needed, not built "
        "(gloo does the collectives; MOKA_DEEPSPEED_SHM=1 builds it for several ranks)",
        "one process" if world_size == 1 else f"{world_size} ranks",
        SHM_COMM,
    )
