"""The cluster launch commands continue a run: a requeued job must not be refused (or, before,
silently start over) because its output_dir holds checkpoints."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_slurm_script_launches_with_resume_auto_before_the_user_overrides():
    script = (ROOT / "scripts" / "slurm" / "train.sh").read_text()
    launch = [line for line in script.splitlines() if "scripts/train.py" in line and not line.startswith("#")]
    assert len(launch) == 1 and re.search(r'--config "\$CONFIG" resume=auto "\$@"', launch[0]), launch


def test_readme_cluster_commands_pass_resume_auto():
    readme = (ROOT / "README.md").read_text()
    launching = readme.split("## Launching", 1)[1].split("\n## ", 1)[0]
    hostfile = re.search(r"deepspeed\s+--hostfile scripts/slurm/hostfile.example scripts/train.py[^`]*`", launching)
    assert hostfile and "resume=auto" in hostfile.group(0), hostfile
    assert "train.sh" in launching and "passes `resume=auto`" in launching
    assert "resume=auto" in (ROOT / "scripts" / "slurm" / "hostfile.example").read_text()
