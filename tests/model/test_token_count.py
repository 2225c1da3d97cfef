"""One source for a modality's token count: the length the data side expands its placeholder to,
the tokens the built model's projector emits, and the budget `validate` prints are one number, also
for an MLP projector (one LLM token per encoder token) on 10 frames."""

from pathlib import Path

import pytest
import torch
from rich.console import Console

from moka_train.config import ConfigError, load_config
from moka_train.data.show import sample_view
from moka_train.data.specs import modality_specs
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.model.summary import token_budget

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"
TINY_CLIP_TOKENS = 4  # the tiny CLIP: 28 px frames in 14 px patches, CLS dropped
MLP_VIDEO = ["model.modalities.0.frames=10", "model.modalities.0.projector={type: mlp}", "data.video_frames=10"]


@pytest.fixture
def demo_root(workspace, monkeypatch):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    return workspace


def _mlp_config(tokens):
    return load_config(CONFIG, [*MLP_VIDEO, f"model.modalities.0.encoder.tokens={tokens}"])


def test_mlp_on_ten_frames_data_side_model_and_budget_agree(demo_root):
    cfg = _mlp_config(TINY_CLIP_TOKENS)
    data_side = {s.name: s.num_tokens for s in modality_specs(cfg.model)}
    torch.manual_seed(0)
    model = build_model(cfg.model, load_tokenizer(cfg.model)).eval()
    with torch.no_grad():
        emitted = model.encode("video", model.dummy_raw("video"), frames=10).shape[1]
    assert emitted == 10 * TINY_CLIP_TOKENS  # every patch token of every frame
    assert data_side["video"] == emitted  # today's data side said 32 x 10 = 320
    assert {b.spec.name: b.spec.num_tokens for b in model.branches} == data_side
    assert token_budget(cfg)["video"] == emitted  # `validate`'s budget
    console = Console(record=True, width=200, color_system=None)
    console.print(sample_view(cfg, 0))
    assert f"video tokens {emitted}" in console.export_text()  # show-sample's count


def test_qformer_budget_is_queries_times_frames_as_the_model_emits(demo_root):
    cfg = load_config(CONFIG)
    model = build_model(cfg.model, load_tokenizer(cfg.model)).eval()
    with torch.no_grad():
        emitted = {
            m.name: model.encode(m.name, model.dummy_raw(m.name), m.frames).shape[1] for m in cfg.model.modalities
        }
    assert emitted == {"video": 4 * 4, "audio": 2 * 4} == token_budget(cfg)
    assert {s.name: s.num_tokens for s in modality_specs(cfg.model)} == emitted


def test_an_encoder_token_count_the_encoder_does_not_emit_fails_naming_the_key(demo_root):
    cfg = _mlp_config(TINY_CLIP_TOKENS + 1)
    with pytest.raises(ValueError, match=r"model.modalities\[0\].encoder.tokens=5, but the clip_hf encoder .* emits 4"):
        build_model(cfg.model, load_tokenizer(cfg.model))


def test_an_mlp_projector_without_the_encoder_token_count_is_refused_naming_the_key(demo_root):
    with pytest.raises(ConfigError, match=r"an mlp projector keeps every encoder token.*encoder.tokens"):
        load_config(CONFIG, MLP_VIDEO)
