"""`make install` says what it does and how long it takes, and pip shows its progress (issue 33:
six silent minutes under --quiet)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_install_announces_itself_and_pip_is_not_quiet(tmp_path):
    venv = tmp_path / "venv"
    planned = subprocess.run(
        ["make", "-n", "install", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    big = [line for line in planned if "-e '.[dev,lmms-deps]'" in line]
    assert len(big) == 1 and "--quiet" not in big[0] and "--progress-bar on" in big[0]
    said = [line for line in planned if line.startswith("echo ")]
    assert any("about 6 minutes" in line for line in said)
    assert any(f"source {venv}/bin/activate" in line for line in said)
    assert planned.index(said[0]) < planned.index(big[0])  # announced before pip starts
