"""Run by test_resume_keys_e2e.py in its own process (DeepSpeed initialises torch.distributed).

1. A checkpoint whose model states lack a trainable module (the trainer state still lists it)
   fails to load, naming the module: DeepSpeed loads with load_module_strict=False, so nothing
   else would notice and the module would keep its fresh initialisation.
2. A run in which one modality never appeared (its branch got no gradient, so no optimizer
   state) resumes under ZeRO-0 and ZeRO-2, restores every weight exactly, and then trains that
   branch too.
"""

import sys
from pathlib import Path

import torch

from moka_train.config.schema import OptimConfig, TrainConfig
from moka_train.train import checkpoint as ckpt
from moka_train.train.checkpoint_files import CheckpointFileError, write_checksums
from moka_train.train.engine import build_engine
from moka_train.utils.dist import init_distributed


class TwoBranches(torch.nn.Module):
    """A video and an audio branch; a batch uses the audio branch only where it has audio."""

    def __init__(self):
        super().__init__()
        self.video, self.audio = torch.nn.Linear(6, 1), torch.nn.Linear(6, 1)

    def forward(self, batch):
        out = self.video(batch["video"])
        return out + self.audio(batch["audio"]) if "audio" in batch else out


def make_engine(zero: int):
    torch.manual_seed(0)
    train = TrainConfig(micro_batch_size=2, deepspeed={"zero_stage": zero, "precision": "fp32"})
    return build_engine(TwoBranches(), train, OptimConfig(lr=0.1, warmup_ratio=0.0), total_steps=10)


def step(engine, with_audio: bool) -> None:
    batch = {"video": torch.randn(2, 6), **({"audio": torch.randn(2, 6)} if with_audio else {})}
    engine.backward(engine(batch).pow(2).mean())
    engine.step()


def missing_module_fails_by_name(root: Path) -> None:
    manager = ckpt.CheckpointManager(root / "missing", keep_last=2)
    engine = make_engine(2)
    step(engine, with_audio=True)
    path = manager.save(engine, "s", 1, {"loop": {"step": 1}})
    (states,) = path.glob("*model_states.pt")
    saved = torch.load(states, weights_only=False)  # our own file, written just above
    saved["module"] = {k: v for k, v in saved["module"].items() if not k.startswith("audio.")}
    torch.save(saved, states)
    write_checksums(path, skip=(ckpt.COMPLETE,))
    try:
        manager.load(make_engine(2), path)
    except CheckpointFileError as err:
        assert "missing: audio (2 tensors" in str(err), f"the error does not name the module: {err}"
    else:
        raise AssertionError("a checkpoint without the audio module loaded without an error")


def never_seen_modality_resumes(root: Path, zero: int) -> None:
    manager = ckpt.CheckpointManager(root / f"unseen-zero{zero}", keep_last=2)
    engine = make_engine(zero)
    audio_before = engine.module.audio.weight.detach().clone()
    for _ in range(2):
        step(engine, with_audio=False)
    assert torch.equal(engine.module.audio.weight, audio_before), "audio trained without audio"
    path = manager.save(engine, "s", 2, {"loop": {"step": 2}})
    saved = {k: v.clone() for k, v in engine.module.state_dict().items()}
    torch.manual_seed(1)  # a fresh engine whose weights differ from the saved ones
    fresh = make_engine(zero)
    with torch.no_grad():
        for param in fresh.module.parameters():
            param.add_(1.0)
    manager.load(fresh, path)
    for key, value in fresh.module.state_dict().items():
        assert torch.equal(value, saved[key]), f"zero{zero}: {key} not restored"
    step(fresh, with_audio=True)
    assert not torch.equal(fresh.module.audio.weight, saved["audio.weight"]), f"zero{zero}: audio did not train"


def main(root: Path) -> None:
    init_distributed()
    missing_module_fails_by_name(root)
    for zero in (0, 2):
        never_seen_modality_resumes(root, zero)
    print("RESUME-KEYS-OK")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
