"""The AVQA recipe's audio path end to end on a 60 s clip whose tone changes at 30 s: decoded
(load_media), batched (Collator), cut into the recipe's windows and encoded by the model; the
projector input holds tone A in the windows before 30 s and tone B in those after. Also: the
feature-cache key follows the sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.feature_cache import encoder_identity
from moka_train.data.media import load_media
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.testing.synthetic import write_wav

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SR = 16000
# one exact period each, tiled: every window that starts on a period boundary holds the same samples
TONE_A = 0.5 * np.sin(2 * np.pi * np.arange(16) / 16)  # 1000 Hz
TONE_B = 0.5 * np.sin(2 * np.pi * np.arange(32) / 32)  # 500 Hz


def tone(period: np.ndarray, seconds: float) -> np.ndarray:
    return np.tile(period, int(seconds * SR) // len(period))


@pytest.fixture(scope="module")
def recipe_audio_model(workspace, tmp_path_factory):
    """The tiny demo model with the AVQA recipe's audio modality (sampling, frames, window length);
    only its encoder and projector are the tiny ones."""
    with pytest.MonkeyPatch.context() as env:  # paths resolve at load time; no variable outlives the fixture
        env.setenv("DEMO_ROOT", str(workspace))
        env.setenv("MODEL_ROOT", "/nonexistent")
        env.setenv("DATA_ROOT", "/nonexistent")
        recipe_audio = load_config(CONFIGS / "avqa_llama3.yaml").model.modalities[1]
        tiny = load_config(CONFIGS / "tiny_avqa.yaml")
    video, tiny_audio = tiny.model.modalities
    audio = recipe_audio.model_copy(update={"encoder": tiny_audio.encoder, "projector": tiny_audio.projector})
    model_cfg = tiny.model.model_copy(update={"modalities": (video, audio)})
    tokenizer = load_tokenizer(model_cfg)
    torch.manual_seed(0)
    return audio, build_model(model_cfg, tokenizer).eval()


def projector_input(model, waves: list[torch.Tensor]) -> torch.Tensor:
    items = [
        {
            "id": str(i),
            "input_ids": torch.tensor([1]),
            "labels": torch.tensor([-100]),
            "modality_ids": torch.tensor([0]),
            "media": {"audio": w},
        }
        for i, w in enumerate(waves)
    ]
    batch = Collator(pad_id=0)(items)
    seen = []
    hook = model.projectors["audio"].register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    with torch.no_grad():
        model.media_tokens(batch, "audio", batch["media"]["audio"], None, 10, batch["media_lengths"]["audio"])
    hook.remove()
    assert len(seen) == 1  # one clip: one window width, one projector call
    return seen[0]


def test_both_halves_of_a_minute_reach_the_projector(recipe_audio_model, tmp_path):
    cfg, model = recipe_audio_model
    plan = cfg.sampling_plan()
    write_wav(tmp_path / "clip.wav", np.concatenate([tone(TONE_A, 30), tone(TONE_B, 30)]))
    write_wav(tmp_path / "a.wav", tone(TONE_A, 2))
    write_wav(tmp_path / "b.wav", tone(TONE_B, 2))
    load = lambda name: load_media("audio", tmp_path / name, name, frames=1, size=1, plan=plan)  # noqa: E731
    clip, ref_a, ref_b = load("clip.wav"), load("a.wav"), load("b.wav")
    assert clip.shape == (60 * SR,) and ref_a.shape == (2 * SR,)

    feats = projector_input(model, [clip])  # [1, 10, L, D]: what the Q-Former receives
    assert feats.shape[:2] == (1, 10)
    with torch.no_grad():
        refs = model.encoder_features("audio", torch.stack([ref_a, ref_b])[:, None].expand(-1, 10, -1), 10)[:, 0]
    # windows [t - 0.5, t + 1.5], t = 6..24: tone A; t = 36..54: tone B (t = 0 is padded, t = 30 mixed)
    for k in (1, 2, 3, 4):
        torch.testing.assert_close(feats[0, k], refs[0], rtol=1e-4, atol=1e-4)
    for k in (6, 7, 8, 9):
        torch.testing.assert_close(feats[0, k], refs[1], rtol=1e-4, atol=1e-4)
    assert (refs[0] - refs[1]).abs().max() > 1e-2  # the two tones do give different features


def test_clips_of_different_lengths_share_a_batch(recipe_audio_model, tmp_path):
    # 60 s and 59.7 s: nominal seconds give windows of 32000 and 31840 samples, encoded group by
    # group and returned in batch order, each equal to the clip encoded alone
    cfg, model = recipe_audio_model
    rng = np.random.default_rng(0)
    waves = [torch.from_numpy(rng.uniform(-0.5, 0.5, n).astype(np.float32)) for n in (60 * SR, 955_200)]
    model.projectors["audio"].eval()
    with torch.no_grad():
        together = model.encode(
            "audio", Collator(0)._pad(waves, 0).float(), 10, torch.tensor([w.numel() for w in waves])
        )
        alone = [model.encode("audio", w[None], 10, torch.tensor([w.numel()])) for w in waves]
    torch.testing.assert_close(together, torch.cat(alone), rtol=1e-5, atol=1e-5)


def test_feature_cache_key_changes_with_the_sampling(monkeypatch):
    monkeypatch.setenv("MODEL_ROOT", "/nonexistent")
    monkeypatch.setenv("DATA_ROOT", "/nonexistent")
    cfg = load_config(CONFIGS / "avqa_llama3.yaml")
    video, audio = cfg.model.modalities

    def key(m, **sampling):
        return encoder_identity(m.model_copy(update={"sampling": m.sampling.model_copy(update=sampling)}), cfg.data)

    audio_keys = {
        key(audio),
        key(audio, window_lead_seconds=0.0),
        key(audio, window_placement="consecutive"),
        key(audio, time_unit="real", nominal_seconds=None),
        key(audio, nominal_seconds=10.0),
        encoder_identity(audio.model_copy(update={"segment_seconds": 1.0}), cfg.data),
        encoder_identity(audio.model_copy(update={"frames": 5}), cfg.data),
    }
    assert len(audio_keys) == 7
    assert key(video) != key(video, frame_position="centre")
    assert key(video) == key(video, frame_position="start")  # same sampling, same key
