"""`moka-train validate` shows each stage's schedule, global batch and grad_accum on 1 and 8 GPUs
(and --gpus N); `train` derives grad_accum from the world size it starts on."""

from pathlib import Path

import pytest
import yaml
from recipe_inputs import create_recipe_inputs

from moka_train.cli import main
from moka_train.config import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(autouse=True)
def roots(monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_ROOT", str(tmp_path / "models"))
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("DEMO_ROOT", str(tmp_path / "demo"))
    monkeypatch.setenv("PRETRAIN_EXPORT", str(tmp_path / "pretrain"))


def printed_section(out: str) -> dict:
    """The `schedule and batch` comment block of validate's output, parsed."""
    block = out.split("# --- schedule and batch per stage ---\n", 1)[1].split("# ---", 1)[0]
    return yaml.safe_load("\n".join(line[2:] for line in block.splitlines()))["schedule_and_batch"]


def test_validate_shows_schedule_and_batch_per_stage(tmp_path, capsys):
    train_file = tmp_path / "data" / "music_avqa" / "train_with_reasoning.jsonl"
    train_file.parent.mkdir(parents=True)
    train_file.write_text('{"id": 1, "conversations": []}\n' * 3200)  # counted: 3200 records = 100 steps of 32
    create_recipe_inputs(CONFIGS / "avqa_llama2.yaml")  # validate refuses paths that do not exist
    stages = [s.name for s in load_config(CONFIGS / "avqa_llama2.yaml").stages]
    assert main(["validate", "--config", str(CONFIGS / "avqa_llama2.yaml"), "--gpus", "3"]) == 0
    shown = printed_section(capsys.readouterr().out)
    assert list(shown) == stages  # one entry per stage
    finetune = shown["finetune"]
    assert finetune["schedule"].startswith("warmup_decay (log warmup")
    assert finetune["1 GPU"] == (
        "global batch 32 = 1 × micro_batch_size 4 × grad_accum 8; ≈300 steps from 3200 records, warmup 9"
    )
    assert finetune["8 GPUs"].startswith("global batch 32 = 8 × micro_batch_size 4 × grad_accum 1; ≈300 steps")
    assert finetune["3 GPUs"].startswith("refused (train.global_batch_size=32 does not divide by world size 3")


def test_train_start_derives_grad_accum_from_the_world_size(tmp_path, monkeypatch):
    """run() trains every stage, and writes config.yaml, with the grad_accum of its world size."""
    import moka_train.train.run as run_module

    seen = []
    monkeypatch.setattr(run_module, "init_distributed", lambda: None)
    monkeypatch.setattr(run_module, "preflight", lambda cfg: None)  # no inputs on disk: nothing is built
    monkeypatch.setattr(run_module, "world_size", lambda: 2)
    monkeypatch.setattr(run_module, "load_tokenizer", lambda *a: None)
    monkeypatch.setattr(run_module, "run_stage", lambda cfg, *a: seen.append(cfg.train.grad_accum) or True)
    cfg = load_config(CONFIGS / "tiny_avqa.yaml", [f"output_dir={tmp_path / 'run'}", "train.global_batch_size=16"])
    out = run_module.run(cfg)
    assert seen == [2, 2, 2]  # 16 / (2 ranks × micro-batch 4), every stage
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["grad_accum"] == 2
