"""The real-weights plumbing without the real weights: the CTranslate2 Whisper converter on a tiny
random model, the cache's atomic writes and digest checks, the pinned-source checks."""

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
from moka_train.testing.real_weights.packages import SMOLLM2, SourceFile
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
