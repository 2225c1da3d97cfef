"""Run by test_checkpoint_safety_e2e.py in its own process (DeepSpeed initialises torch.distributed).

1. Loading a clean checkpoint calls ``torch.load`` with ``weights_only=True`` only, and restores
   the weights exactly.
2. For ZeRO-2 and ZeRO-3, a pickle that would create a marker directory is planted in the model
   states and, separately, in the ZeRO optimizer states, and checksums.json is rewritten to match
   (whoever can write the files can write it too): the load refuses, naming the file, and the
   marker never appears.
"""

import os
import sys
from pathlib import Path
from unittest import mock

import torch
from crash_mid_save import step

from moka_train.config.schema import OptimConfig, TrainConfig
from moka_train.train import checkpoint as ckpt
from moka_train.train.engine import build_engine
from moka_train.utils.dist import init_distributed

try:
    from moka_train.train.checkpoint_files import write_checksums
except ImportError:  # the code before checkpoints had checksums: nothing to rewrite

    def write_checksums(directory, skip=()):
        return {}


class Payload:
    """Unpickling this calls os.mkdir(marker): harmless, and visible."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def make_engine(zero: int):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.Linear(6, 1))
    train = TrainConfig(micro_batch_size=2, deepspeed={"zero_stage": zero, "precision": "fp32"})
    return build_engine(model, train, OptimConfig(lr=0.1, warmup_ratio=0.0), total_steps=10)


def clean_load_uses_weights_only(root: Path) -> None:
    manager = ckpt.CheckpointManager(root, keep_last=2)
    engine = make_engine(2)
    step(engine)
    path = manager.save(engine, "s", 1, {"loop": {"step": 1}})
    saved = {k: v.clone() for k, v in engine.module.state_dict().items()}
    real_load, flags = torch.load, []

    def spy(*args, **kwargs):
        flags.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    fresh = make_engine(2)
    with mock.patch.object(torch, "load", spy):
        manager.load(fresh, path)
    assert flags and all(flag is True for flag in flags), f"torch.load weights_only flags: {flags}"
    for key, value in fresh.module.state_dict().items():
        assert torch.equal(value, saved[key]), key


def plant(file: Path, marker: Path) -> None:
    state = torch.load(file, weights_only=False)  # our own file, written just above
    state["extra"] = Payload(str(marker))
    torch.save(state, file)


def crafted_load_is_refused(root: Path, zero: int, kind: str) -> None:
    manager = ckpt.CheckpointManager(root / f"zero{zero}-{kind}", keep_last=2)
    engine = make_engine(zero)
    step(engine)
    path = manager.save(engine, "s", 1, {"loop": {"step": 1}})
    files = sorted(path.glob(f"*{kind}_states.pt"))
    assert len(files) == 1, sorted(p.name for p in path.iterdir())
    marker = root / f"PWNED-zero{zero}-{kind}"
    plant(files[0], marker)
    write_checksums(path, skip=(ckpt.COMPLETE,))
    try:
        manager.load(make_engine(zero), path)
    except Exception as err:  # the refusal must name the planted file
        assert files[0].name in str(err) and "refused" in str(err), f"unexpected error: {err!r}"
    else:
        raise AssertionError(f"the crafted checkpoint {files[0].name} loaded without a refusal")
    assert not marker.exists(), f"the payload in {files[0].name} ran: {marker} was created"


def main(root: Path) -> None:
    init_distributed()
    clean_load_uses_weights_only(root / "clean")
    for zero in (2, 3):
        for kind in ("model", "optim"):
            crafted_load_is_refused(root, zero, kind)
    print("CRAFTED-REFUSED-OK")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
