"""The paper recipes train with the official attention temperature, schedule and global batch of
their scenario (issue 30, items 3, 5 and 8; the official values in docs/paper.md)."""

from pathlib import Path

import pytest

from moka_train.config import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
AVT = sorted(p for p in CONFIGS.glob("*.yaml") if p.stem.startswith(("avqa_", "ave_")))
VISUAL = sorted(p for p in CONFIGS.glob("visual_*.yaml"))


@pytest.fixture(autouse=True)
def roots(monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_ROOT", str(tmp_path / "models"))
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))


def test_every_scenario_has_recipes():
    assert len(AVT) >= 10 and len(VISUAL) >= 5


@pytest.mark.parametrize("path", AVT, ids=lambda p: p.stem)
def test_audio_visual_recipes_train_as_the_avt_code(path):
    cfg = load_config(path)
    assert cfg.adapter.temperature == "official"  # AVT peft_hyper lora.py: √r on the scaled vectors
    assert cfg.train.global_batch_size == 32  # ft_musicavqa.sh: 8 GPUs × 4 × 1
    finetune = cfg.stages[-1]
    assert finetune.kind == "moka_finetune" and finetune.optim.schedule == "warmup_decay"  # stage2-offload.json
    assert (finetune.optim.lr, finetune.optim.warmup_ratio) == (1e-4, 0.03)


@pytest.mark.parametrize("path", VISUAL, ids=lambda p: p.stem)
def test_visual_recipes_train_as_the_vt_code(path):
    cfg = load_config(path)
    assert cfg.adapter.temperature == "paper"  # = the VT layer (tests/adapters/test_moka_vt_equivalence.py)
    assert (cfg.train.global_batch_size, cfg.train.micro_batch_size) == (32, 2)  # train.sh: 8 × 2 × 2 per node
    assert all(stage.optim.schedule == "cosine" for stage in cfg.stages)  # no scheduler block in its DS JSON
