"""`make test-fast` (the development lane) runs the equivalence tests and leaves out the end-to-end
and multi-process ones; every MULTIPROCESS entry of tests/conftest.py still names a test."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lanes import MULTIPROCESS

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
KEPT = "tests/adapters/test_moka_equivalence.py"
LEFT_OUT = ["tests/e2e/test_train_e2e.py", "tests/examples/test_moka_on_your_loop.py"]


def fast_lane_pytest_args(extra: str) -> list[str]:
    """The arguments `make test-fast PYTEST_ARGS=extra` gives pytest (make -n runs nothing)."""
    printed = subprocess.run(
        ["make", "-n", "test-fast", f"PYTEST_ARGS={extra}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    (line,) = [row for row in printed.splitlines() if " -m pytest " in row]
    return shlex.split(line.split(" -m pytest ", 1)[1])


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_fast_lane_collects_the_equivalence_tests_and_not_the_end_to_end_ones():
    args = fast_lane_pytest_args(" ".join(["--collect-only", KEPT, *LEFT_OUT]))
    done = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    collected = [row for row in done.stdout.splitlines() if "::" in row]
    assert collected and all(row.startswith(KEPT + "::") for row in collected), collected
    assert re.search(r"(\d+)/\d+ tests collected \((\d+) deselected\)", done.stdout), done.stdout[-500:]


@pytest.mark.parametrize("entry", MULTIPROCESS)
def test_every_multiprocess_entry_names_a_test(entry):
    path, _, name = entry.partition("::")
    source = (TESTS / path).read_text()
    assert not name or re.search(rf"^def {re.escape(name)}", source, re.M), entry
