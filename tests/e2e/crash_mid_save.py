"""Run by test_checkpoint_e2e.py in its own process (DeepSpeed initialises torch.distributed).

Saves a checkpoint, trains, injects an exception in the middle of the next save, then checks
that `latest` still names the first checkpoint and that it loads back exactly.
"""

import sys
from pathlib import Path
from unittest import mock

import torch

from moka_train.config.schema import OptimConfig, TrainConfig
from moka_train.train import checkpoint as ckpt
from moka_train.train.engine import build_engine
from moka_train.utils.dist import init_distributed


def make_engine():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.Linear(6, 1))
    train = TrainConfig(micro_batch_size=2, deepspeed={"zero_stage": 2, "precision": "fp32"})
    return build_engine(model, train, OptimConfig(lr=0.1, warmup_ratio=0.0), total_steps=10)


def step(engine):
    loss = engine(torch.randn(2, 6)).pow(2).mean()
    engine.backward(loss)
    engine.step()


def main(root: Path) -> None:
    init_distributed()
    manager = ckpt.CheckpointManager(root, keep_last=2)
    engine = make_engine()
    step(engine)
    manager.save(engine, "s", 1, {"loop": {"step": 1}})
    saved = {k: v.clone() for k, v in engine.module.state_dict().items()}
    step(engine)
    with mock.patch.object(ckpt, "capture_rng", side_effect=RuntimeError("injected crash")):
        try:
            manager.save(engine, "s", 2, {"loop": {"step": 2}})
        except ckpt.CheckpointFileError as err:  # named, with the checkpoint kept
            assert "injected crash" in str(err) and "s-step00000001 is kept" in str(err), err
        else:
            raise AssertionError("the injected crash did not happen")
    assert manager.latest().name == "s-step00000001", manager.latest()
    assert not (root / "s-step00000002.partial").exists()  # a failed write removes its partial files
    fresh = make_engine()
    state = manager.load(fresh, manager.latest())
    assert state["loop"] == {"step": 1}
    for key, value in fresh.module.state_dict().items():
        assert torch.equal(value, saved[key]), key
    manager.save(engine, "s", 2, {"loop": {"step": 2}})  # the next save moves on
    assert manager.latest().name == "s-step00000002" and not (root / "s-step00000002.partial").exists()
    print("CRASH-SAFE-OK")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
