"""The README Quickstart works as printed (issue 33): its venv line, its validate of the demo
recipe, and its export line that sets every variable the paper recipe reads."""

import re
import shlex
from pathlib import Path

from moka_train.cli import main
from moka_train.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_quickstart_activates_the_venv_and_validates_the_demo_recipe(workspace, monkeypatch, capsys):
    commands = quickstart_commands()
    assert "source .venv/bin/activate" in commands
    (demo,) = [c for c in commands if "configs/tiny_avqa.yaml" in c]
    env, argv = demo.split(" ", 1)
    assert env == "DEMO_ROOT=demo_out"  # what `make demo` writes (scripts/demo.py --output-dir demo_out)
    monkeypatch.setenv("DEMO_ROOT", str(workspace))  # the same layout, built by the test session
    args = shlex.split(argv)
    assert args[:2] == ["moka-train", "validate"] and main(args[1:]) == 0
    assert "# --- budget ---" in capsys.readouterr().out


def test_quickstart_export_line_sets_every_variable_the_paper_recipe_reads(monkeypatch, capsys):
    commands = quickstart_commands()
    (export,) = [c for c in commands if c.startswith("export ")]
    names = dict(pair.split("=", 1) for pair in shlex.split(export)[1:])
    assert {"MODEL_ROOT", "DATA_ROOT"} <= set(names)
    for name in ("MODEL_ROOT", "DATA_ROOT", "PRETRAIN_EXPORT"):
        monkeypatch.delenv(name, raising=False)
    assert main(["validate", "--config", str(ROOT / "configs" / "avqa_llama3.yaml")]) == 2
    assert "environment variable ${MODEL_ROOT} is not set (export MODEL_ROOT=" in capsys.readouterr().err
    for name, value in names.items():
        monkeypatch.setenv(name, value)
    load_config(ROOT / "configs" / "avqa_llama3.yaml")  # no variable left unset
    assert any(c.startswith("moka-train validate --config configs/avqa_llama3.yaml") for c in commands)
