"""A shortened `make demo`: both methods train through the real stages and get scored."""

import json
import os
import subprocess
import sys

import pytest

from e2e_helpers import ROOT, losses

pytestmark = pytest.mark.slow


def test_short_demo_trains_both_methods_and_prints_the_table(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--output-dir", str(out),
                           "--train-samples", "32", "--heldout-samples", "16", "--epochs", "8"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    table = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(table) == ["lora", "moka"]
    assert all(sorted(acc) == ["av_colour_tone", "colour", "tone"] for acc in table.values())
    assert "held-out accuracy" in proc.stdout and "chance" in proc.stdout
    for method in ("lora", "moka"):
        curve = list(losses(out / f"run_{method}", "finetune").values())
        assert sum(curve[-8:]) / 8 < curve[0] - 2.0  # learned, on both methods (64 steps)
        assert (out / f"run_{method}" / "loss_finetune.png").is_file()
