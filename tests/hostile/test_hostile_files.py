"""The small refusals of issue 32 item 9 outside the server: a pickle or a truncated file given to
`import-official` is a named error with exit code 2 (was: a traceback), a full disk while a
checkpoint is written is a named error that keeps the last good checkpoint, and after a resume
metrics.jsonl holds each step once (was: the re-trained steps twice)."""

import errno
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from moka_train.cli import main
from moka_train.train.checkpoint import CheckpointManager
from moka_train.train.checkpoint_files import CheckpointFileError
from moka_train.train.metrics import MetricsLogger, read_metrics

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def import_official(tmp_path, source: Path, capsys) -> tuple[int, str]:
    os.environ["DEMO_ROOT"] = str(tmp_path)
    code = main(["import-official", "--config", str(CONFIG), "--source", str(source), "--kind", "projector"])
    return code, capsys.readouterr().err


def test_a_crafted_pickle_given_to_import_official_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "audio_pretrain.bin"
    torch.save({"model.al_projector.weight": Exploit()}, bad)
    code, err = import_official(tmp_path, bad, capsys)
    assert code == 2 and "refused to unpickle it: it asks for more than tensors" in err and str(bad) in err
    assert not (tmp_path / "pwned").exists()


def test_a_truncated_checkpoint_given_to_import_official_is_named(tmp_path, capsys):
    good = tmp_path / "whole.bin"
    torch.save({"model.al_projector.weight": torch.zeros(64, 64)}, good)
    cut = tmp_path / "audio_pretrain.bin"
    cut.write_bytes(good.read_bytes()[:200])
    code, err = import_official(tmp_path, cut, capsys)
    assert code == 2 and f"{cut}: cannot be read, truncated or corrupt" in err


class FakeEngine:
    """What CheckpointManager.save asks of a DeepSpeed engine; ``full`` makes the disk full."""

    def __init__(self):
        self.module, self.full = nn.Linear(2, 2), False

    def save_checkpoint(self, root, tag, **_):
        if self.full:
            (Path(root) / tag).mkdir(parents=True, exist_ok=True)
            (Path(root) / tag / "mp_rank_00_model_states.pt").write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
        (Path(root) / tag).mkdir(parents=True, exist_ok=True)
        torch.save(self.module.state_dict(), Path(root) / tag / "mp_rank_00_model_states.pt")


def test_a_full_disk_during_a_checkpoint_is_named_and_keeps_the_last_good_one(tmp_path):
    manager, engine = CheckpointManager(tmp_path / "ckpt"), FakeEngine()
    good = manager.save(engine, "finetune", 10, {})
    engine.full = True
    with pytest.raises(CheckpointFileError, match=r"checkpoint finetune-step00000020 could not be written") as info:
        manager.save(engine, "finetune", 20, {})
    message = str(info.value)
    assert "No space left on device" in message and f"the last good checkpoint {good} is kept" in message
    assert manager.latest() == good and manager.newest_verified(["finetune"]) == good
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["finetune-step00000010", "latest"]


def test_resumed_metrics_hold_each_step_once(tmp_path):
    first = MetricsLogger(tmp_path, "finetune", 6, "disabled", {})
    for step in range(1, 6):  # steps 4 and 5 were logged after the last checkpoint (step 3)
        first.log(step, {"loss": 1.0 / step, "lr": 0.1})
    resumed = MetricsLogger(tmp_path, "finetune", 6, "disabled", {}, start_step=3)
    for step in (4, 5, 6):
        resumed.log(step, {"loss": 0.5 / step, "lr": 0.1})
    rows = read_metrics(tmp_path / "metrics.jsonl", "finetune")
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[3]["loss"] == 0.5 / 4  # the re-trained step's row, not the lost run's
