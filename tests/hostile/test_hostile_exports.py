"""Exports (issue 32 item 6): a tensor of the wrong dtype is refused even when the manifest's hash
matches (was: int8 / bool cast into float weights, exit 0), manifest entries are confined to the
export directory (was: an absolute path loaded another export's weights), and a truncated or
deeply nested manifest is a named ExportError (was: a traceback)."""

import json
from pathlib import Path

import pytest
import torch
from adapters.helpers import adapted
from safetensors.torch import load_file, save_file

from moka_train.adapters import load_adapters, save_adapters
from moka_train.utils.hashing import file_sha256
from moka_train.utils.weights_format import ExportError


def saved(tmp_path: Path, name: str = "adapter", seed: int = 0) -> tuple[Path, dict]:
    model, _, spec = adapted("llama", "lora", seed=seed)
    directory = save_adapters(model, spec, tmp_path / name)
    return directory, json.loads((directory / "manifest.json").read_text())


def rewrite(directory: Path, manifest: dict, tensors: dict | None = None) -> None:
    """Replace the weights (and their hash, as an attacker would) and the manifest."""
    if tensors is not None:
        entry = manifest["files"]["adapter.safetensors"]
        save_file(tensors, str(directory / "adapter.safetensors"))
        entry["sha256"] = file_sha256(directory / "adapter.safetensors")
    (directory / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("dtype", [torch.int8, torch.bool])
def test_wrong_dtype_with_a_matching_hash_is_refused(tmp_path, dtype):
    directory, manifest = saved(tmp_path)
    tensors = {k: v.to(dtype) for k, v in load_file(str(directory / "adapter.safetensors")).items()}
    manifest["files"]["adapter.safetensors"].pop("dtypes")  # an old manifest: the model check still holds
    rewrite(directory, manifest, tensors)
    fresh, _, _ = adapted("llama", "lora", randomize_b=False)
    with pytest.raises(ExportError, match=rf"adapter.safetensors: .* is {dtype}, the model's weight is torch.float32"):
        load_adapters(fresh, directory)


def test_a_dtype_the_manifest_does_not_list_is_refused(tmp_path):
    directory, manifest = saved(tmp_path)
    tensors = {k: v.to(torch.float16) for k, v in load_file(str(directory / "adapter.safetensors")).items()}
    rewrite(directory, manifest, tensors)
    fresh, _, _ = adapted("llama", "lora", randomize_b=False)
    with pytest.raises(ExportError, match=r"is torch.float16, the manifest lists \['float32'\]"):
        load_adapters(fresh, directory)


@pytest.mark.parametrize("escape", ["absolute", "dotdot", "symlink"])
def test_manifest_entries_outside_the_export_are_refused(tmp_path, escape):
    other, other_manifest = saved(tmp_path, "other", seed=1)
    directory, manifest = saved(tmp_path)
    name = {"absolute": str(other / "adapter.safetensors"), "dotdot": "../other/adapter.safetensors"}.get(escape)
    if escape == "symlink":
        name = "link.safetensors"
        (directory / name).symlink_to(other / "adapter.safetensors")
    manifest["files"] = {name: other_manifest["files"]["adapter.safetensors"]}
    rewrite(directory, manifest)
    fresh, _, _ = adapted("llama", "lora", randomize_b=False)
    with pytest.raises(ExportError, match="which is not a file inside"):
        load_adapters(fresh, directory)


@pytest.mark.parametrize(
    "text, message",
    [
        (None, "not a readable manifest"),  # truncated
        ('{"files": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
        ('{"files": ["adapter.safetensors"]}', "not a manifest"),
        ("[]", "not a manifest"),
    ],
)
def test_broken_manifests_are_named(tmp_path, text, message):
    directory, _ = saved(tmp_path)
    path = directory / "manifest.json"
    path.write_text(path.read_text()[:40] if text is None else text)
    fresh, _, _ = adapted("llama", "lora", randomize_b=False)
    with pytest.raises(ExportError, match=message):
        load_adapters(fresh, directory)
