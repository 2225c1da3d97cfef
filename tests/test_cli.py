"""The CLI: validate prints a config that loads back; deepspeed's --local_rank is accepted."""

import subprocess
import sys
from pathlib import Path

import yaml

from moka_train.cli import main
from moka_train.config import load_config

ROOT = Path(__file__).resolve().parents[1]

RECIPE = {
    "model": {"llm_path": "llm", "dtype": "float32"},
    "data": {"root": "data"},
    "stages": [{"name": "ft", "kind": "moka_finetune"}],
}


def test_validate_prints_loadable_yaml(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(RECIPE))
    assert main(["validate", "--config", str(path), "adapter.rank=12"]) == 0
    printed = tmp_path / "printed.yaml"
    printed.write_text(capsys.readouterr().out)
    assert load_config(printed).adapter.rank == 12
    assert load_config(printed) == load_config(path, ["adapter.rank=12"])


def test_bad_key_exits_2_with_message(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(RECIPE))
    assert main(["validate", "--config", str(path), "adapter.rnk=3"]) == 2
    assert "adapter.rank" in capsys.readouterr().err


def test_train_script_accepts_local_rank_and_dry_run(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(RECIPE))
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), "--local_rank=0",
                          "--config", str(path), "--dry-run", "train.seed=3"],
                         capture_output=True, text=True, check=True).stdout
    assert yaml.safe_load(out)["train"]["seed"] == 3
