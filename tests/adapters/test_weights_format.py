"""One weights format (moka_train/utils/weights_format.py): a standalone adapter (save_adapters) is written and read
like a run's export: role files with sha256 in a manifest, verified and strict on load."""

import json

import pytest
import torch
from helpers import adapted

from moka_train.adapters import adapter_state_dict, load_adapters, read_adapter_spec, save_adapters
from moka_train.utils.weights_format import ExportError, read_roles, write_weights


def test_save_adapters_writes_the_export_format(tmp_path):
    model, _, spec = adapted("llama", "moka")
    save_adapters(model, spec, tmp_path / "adapter")
    manifest = json.loads((tmp_path / "adapter" / "manifest.json").read_text())
    entry = manifest["files"]["adapter.safetensors"]
    own = adapter_state_dict(model)
    assert entry["role"] == "adapter" and entry["tensors"] == len(own) and len(entry["sha256"]) == 64
    assert entry["parameters"] == sum(p.numel() for p in own.values())
    assert read_adapter_spec(tmp_path / "adapter") == spec
    [(role, tensors, _)] = list(read_roles(tmp_path / "adapter"))  # the export reader reads it
    assert role == "adapter" and all(torch.equal(tensors[k], own[k]) for k in own)


def test_a_corrupt_adapter_file_fails_with_the_file_named(tmp_path):
    model, _, spec = adapted("llama", "moka")
    save_adapters(model, spec, tmp_path / "adapter")
    path = tmp_path / "adapter" / "adapter.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # one flipped bit in the last weight
    path.write_bytes(bytes(data))
    fresh, _, _ = adapted("llama", "moka", randomize_b=False)
    with pytest.raises(ExportError, match=rf"{path}: sha256 differs"):
        load_adapters(fresh, tmp_path / "adapter")


def test_saving_never_replaces_a_directory_of_other_files(tmp_path):
    model, _, spec = adapted("llama", "lora")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match=rf"{tmp_path}: exists and is not a weights directory"):
        save_adapters(model, spec, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    save_adapters(model, spec, tmp_path / "adapter")
    save_adapters(model, spec, tmp_path / "adapter")  # a previous weights directory is replaced


def test_an_export_without_a_spec_is_named(tmp_path):
    write_weights(tmp_path / "export", {"projector.video": {"w": torch.zeros(2)}}, {"stage": "s"})
    with pytest.raises(ExportError, match=r"export/manifest.json: no adapter_spec"):
        read_adapter_spec(tmp_path / "export")
    model, _, _ = adapted("llama", "lora")
    with pytest.raises(ExportError, match="lists no adapter weights"):
        load_adapters(model, tmp_path / "export")
