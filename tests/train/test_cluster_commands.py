"""The multi-node launch commands continue a run: a requeued job must not be refused (or, before,
silently start over) because its output_dir holds checkpoints. The commands are run, not read as
prose: scripts/slurm/train.sh under stand-in SLURM tools, and every multi-node launch line that the
README and the hostfile example show, through the real train parser and config loader."""

import os
import re
import shlex
import subprocess
from pathlib import Path

from moka_train.cli import build_parser
from moka_train.config import load_config

ROOT = Path(__file__).resolve().parents[2]
RECIPE = "configs/avqa_llama3.yaml"  # what a command's `--config ...` placeholder stands for
RECIPE_ENV = {"MODEL_ROOT": "/models", "DATA_ROOT": "/data", "PRETRAIN_EXPORT": "/export"}
STAND_INS = {  # SLURM tools: scontrol names the nodes, srun records the command it would run
    "scontrol": "#!/bin/sh\necho node-001\n",
    "srun": '#!/bin/sh\nprintf "%s\\0" "$@" > "$SRUN_RECORD"\n',
}


def train_config(argv: list[str], monkeypatch):
    """The config that `scripts/train.py argv` trains, read by the real parser and loader."""
    argv = list(argv)
    if argv[argv.index("--config") + 1] == "...":
        argv[argv.index("--config") + 1] = RECIPE
    args = build_parser().parse_args(["train", *argv])
    for name, value in RECIPE_ENV.items():
        monkeypatch.setenv(name, value)
    return load_config(ROOT / args.config, args.overrides)


def after_train_script(command: list[str]) -> list[str]:
    return command[command.index("scripts/train.py") + 1 :]


def slurm_launch(tmp_path: Path, script: str, *args: str) -> list[str]:
    """The command the SLURM script hands srun, as `sbatch script args` would run it on a node."""
    tools = tmp_path / "bin"
    tools.mkdir(exist_ok=True)
    for name, body in STAND_INS.items():
        (tools / name).write_text(body)
        (tools / name).chmod(0o755)
    record = tmp_path / "srun.args"
    env = {
        **os.environ,
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "SRUN_RECORD": str(record),
        "SLURM_JOB_NODELIST": "node-[001-002]",
        "SLURM_NNODES": "2",
        "SLURM_JOB_ID": "7",
    }
    subprocess.run(["bash", script, *args], env=env, cwd=ROOT, check=True, capture_output=True, timeout=60)
    return record.read_text().split("\0")[:-1]


def shown_commands(text: str) -> list[str]:
    """Every command a Markdown text shows: fenced block lines (continuations joined, comments
    dropped) and inline code spans, whitespace collapsed."""
    blocks = re.findall(r"```\w*\n(.*?)```", text, re.S)
    lines = [line.split("  #")[0] for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    spans = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return [" ".join(c.split()) for c in lines + spans if c.strip()]


def multi_node(commands: list[str]) -> list[list[str]]:
    """The multi-node launches among ``commands``, as argv, placeholders in brackets dropped."""
    picked = [c for c in commands if c.startswith("sbatch ") or "--hostfile" in c]
    return [[a for a in shlex.split(c) if not (a.startswith("[") or a.endswith("]"))] for c in picked]


def test_slurm_script_resumes_and_the_users_overrides_come_last(tmp_path, monkeypatch):
    command = slurm_launch(tmp_path, "scripts/slurm/train.sh", RECIPE, "train.seed=7")
    assert command[0] == "torchrun" and "--nnodes" in command
    cfg = train_config(after_train_script(command), monkeypatch)
    assert cfg.resume == "auto" and cfg.train.seed == 7
    command = slurm_launch(tmp_path, "scripts/slurm/train.sh", RECIPE, "resume=/ckpt/step-5")
    assert train_config(after_train_script(command), monkeypatch).resume == "/ckpt/step-5"


def test_every_multi_node_command_shown_resumes(tmp_path, monkeypatch):
    readme = multi_node(shown_commands((ROOT / "README.md").read_text()))
    hostfile = (ROOT / "scripts" / "slurm" / "hostfile.example").read_text()
    example = multi_node([line.lstrip("# ") for line in hostfile.splitlines() if line.startswith("#")])
    assert {c[0] for c in readme} == {"sbatch", "deepspeed"} and len(example) == 1, (readme, example)
    for command in readme + example:
        if command[0] == "sbatch":  # run the script as SLURM would
            command = slurm_launch(tmp_path, *command[1:])
        assert train_config(after_train_script(command), monkeypatch).resume == "auto", command
