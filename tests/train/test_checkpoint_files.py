"""Checkpoint and export files are verified before they are used, and a failure names the file."""

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from moka_train.config import ConfigError
from moka_train.data.report import DataReport
from moka_train.model.export import export_weights, load_export
from moka_train.train.checkpoint_files import (
    CheckpointFileError,
    UnsafeCheckpointError,
    safe_torch_load,
    verify_checksums,
    write_checksums,
)
from moka_train.train.identity import IDENTITY_KEYS, check_identity
from moka_train.train.run import restore_data_report
from moka_train.utils.weights_format import ExportError


def flip_byte(path: Path, at: int | None = None) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 if at is None else at] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.fixture
def ckpt_dir(tmp_path):
    directory = tmp_path / "s-step00000001"
    directory.mkdir()
    torch.save({"w": torch.arange(1000.0)}, directory / "mp_rank_00_model_states.pt")
    (directory / "trainer_state.json").write_text('{"step": 1}')
    write_checksums(directory)
    return directory


def test_intact_checkpoint_verifies(ckpt_dir):
    verify_checksums(ckpt_dir)
    assert json.loads((ckpt_dir / "checksums.json").read_text()).keys() == {
        "mp_rank_00_model_states.pt",
        "trainer_state.json",
    }


def test_flipped_byte_names_the_file(ckpt_dir):
    flip_byte(ckpt_dir / "mp_rank_00_model_states.pt")
    with pytest.raises(CheckpointFileError, match=r"mp_rank_00_model_states.pt: sha256 differs"):
        verify_checksums(ckpt_dir)


def test_truncated_file_names_the_file_and_both_sizes(ckpt_dir):
    path = ckpt_dir / "mp_rank_00_model_states.pt"
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointFileError, match=rf"{path}: 500 bytes, {size} when saved"):
        verify_checksums(ckpt_dir)
    # without checksums (an older checkpoint) the reader itself names the file
    with pytest.raises(CheckpointFileError, match=rf"{path}: cannot be read, truncated or corrupt"):
        safe_torch_load(path)


def test_missing_file_is_named(ckpt_dir):
    (ckpt_dir / "trainer_state.json").unlink()
    with pytest.raises(CheckpointFileError, match=r"trainer_state.json: missing"):
        verify_checksums(ckpt_dir)


class Marker:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.mkdir, (Path(self.path),))


def test_safe_load_refuses_a_pickle_that_would_run_code(tmp_path):
    bad = tmp_path / "rng_rank0.pt"
    torch.save({"torch": torch.zeros(3), "extra": Marker(tmp_path / "PWNED")}, bad)
    with pytest.raises(UnsafeCheckpointError, match=r"rng_rank0.pt: refused to unpickle it"):
        safe_torch_load(bad)
    assert not (tmp_path / "PWNED").exists()


IDENTITY = {
    "train.seed": 0,
    "data.seed": 0,
    "world_size": 2,
    "train.micro_batch_size": 4,
    "data.group_by_modality": True,
    "stages": ["ft (moka_finetune)"],
    "data.train_file": {"path": "/d/train.jsonl", "size": 10, "sha256": "a" * 64},
    "stage.plan": {"precision": "bf16", "video": "320 tokens, 10 frame(s)"},
}


def test_identity_mismatch_is_refused_by_key_unless_allowed():
    now = {**IDENTITY, "world_size": 4, "data.train_file": {"path": "/e/train.jsonl", "size": 10, "sha256": "b" * 64}}
    with pytest.raises(ConfigError) as err:
        check_identity(IDENTITY, now, (), Path("ck"))
    assert "world_size: 2 in the checkpoint, 4 now" in str(err.value)
    assert "data.train_file: /d/train.jsonl (10 bytes, sha256 aaaaaaaaaaaa...) in the checkpoint" in str(err.value)
    assert "resume_allow_changes=[world_size,data.train_file]" in str(err.value)
    assert check_identity(IDENTITY, now, ("world_size", "data.train_file"), Path("ck")) == [
        "world_size",
        "data.train_file",
    ]
    moved = {**IDENTITY, "data.train_file": {**IDENTITY["data.train_file"], "path": "/mnt/train.jsonl"}}
    assert check_identity(IDENTITY, moved, (), Path("ck")) == []  # same bytes elsewhere: the same data
    with pytest.raises(ConfigError, match=r"resume_allow_changes: unknown keys \['seed'\]; allowed: train.seed"):
        check_identity(IDENTITY, IDENTITY, ("seed",), Path("ck"))
    assert set(IDENTITY) == set(IDENTITY_KEYS)


def test_data_report_round_trips_through_the_checkpoint_state():
    report = DataReport(total=6)
    report.add("unreadable_media", "s1", "f:1", "a.wav", "not found")
    report.add("unreadable_media", "s2", "f:2", "b.wav", "not found")
    report.add("overlength", "s3", "f:3", None, "too long")
    restored = DataReport(total=6)
    restored.add("overlength", "s3", "f:3", None, "too long")  # found again when the dataset is rebuilt
    restore_data_report(restored, json.loads(json.dumps(report.to_dict())))
    assert restored.to_dict() == report.to_dict()


class TinyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.adapter = nn.Linear(4, 2)

    def role_of(self, name: str) -> str:
        return "projector.video" if name.startswith("proj.") else "adapter"


def test_export_with_a_flipped_bit_is_refused_naming_the_file(tmp_path):
    model = TinyModel()
    export_weights(model, tmp_path / "exp", "", {"stage": "s"})
    path = tmp_path / "exp" / "adapter.safetensors"
    flip_byte(path, at=path.stat().st_size - 3)  # inside the tensor data: safetensors would load it
    fresh = TinyModel()
    with pytest.raises(ExportError, match=rf"{path}: sha256 differs from .*manifest.json"):
        load_export(fresh, tmp_path / "exp")
    load_export(fresh, tmp_path / "exp", roles=["projector.video"])  # the intact file still loads
    assert torch.equal(fresh.proj.weight, model.proj.weight)
