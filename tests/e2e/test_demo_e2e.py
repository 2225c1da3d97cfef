"""A shortened `make demo`: both methods train through the real stages and get scored, the report
carries MokA's partial-modality probe and the two pictures, every step draws one progress line.
It does not assert that the audio path learns: at this length, and at 192 training samples,
MokA's held-out tone accuracy still lands on chance (0.5) for some training seeds (issue 17)."""

import json
import os
import re
import subprocess
import sys

import pytest
from e2e_helpers import ROOT, losses

pytestmark = pytest.mark.slow

HELD_OUT = 24


def test_short_demo_trains_both_methods_and_prints_the_table_probe_and_pictures(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "demo.py"),
            "--output-dir",
            str(out),
            "--train-samples",
            "96",
            "--heldout-samples",
            str(HELD_OUT),
            "--epochs",
            "4",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    table = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(table) == ["lora", "moka"]
    assert all(sorted(acc) == ["av_colour_tone", "colour", "tone"] for acc in table.values())
    assert "held-out accuracy" in proc.stdout and "chance" in proc.stdout
    probe = json.loads(proc.stdout.strip().splitlines()[-2])["probe"]
    assert sorted(probe) == ["all tokens", "media only", "text only"]
    assert probe["all tokens"] == table["moka"]  # the probe's "all" is the plain evaluation
    pictures = re.findall(r"^picture: (.+)$", proc.stdout, re.M)
    assert [p.rsplit("/", 1)[-1] for p in pictures] == ["accuracy.png", "losses.png"]
    assert all(open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for p in pictures)
    for method in ("lora", "moka"):
        curve = list(losses(out / f"run_{method}", "finetune").values())
        assert len(curve) == 96  # one metrics row per step
        assert sum(curve[-8:]) / 8 < curve[0] - 2.0  # learned, on both methods
        assert (out / f"run_{method}" / "loss_finetune.png").is_file()
    progress = [line for line in proc.stderr.replace("\r", "\n").splitlines() if line.startswith("finetune:")]
    # per method: the bar as it opens, one line per step, the bar as it closes (it was 2 per step)
    assert len(progress) == 2 * (96 + 2), len(progress)
