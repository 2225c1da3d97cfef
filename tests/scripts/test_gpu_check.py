"""scripts/gpu_check.py in its dry mode (a toy shape on the CPU): every section of the one JSON
file is there, the planner's estimate is filled in, and bf16 gradients agree with fp32."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.py"


def test_dry_run_writes_the_whole_report(tmp_path):
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--output", str(tmp_path / "check.json")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["written"] == str(tmp_path / "check.json")
    report = json.loads((tmp_path / "check.json").read_text())
    assert set(report["train"]) == {"lora", "moka"} and report["moka_vs_lora_step"] > 0
    for row in report["train"].values():
        assert row["step_s"] > 0 and row["planner_estimate_mb"] > 0 and row["saved_activation_mb"] > 0
        assert row["step_peak_mb"] is None and row["measured_over_planner"] is None  # CUDA only
    assert report["generate"]["moka_folded"]["decode_tok_s"] > 0 and report["moka_folded_vs_lora_merged_decode"] > 0
    grads = report["bf16_vs_fp32_gradients"]
    assert grads["parameters"] > 0 and grads["cosine_min"] > 0.9 and grads["relative_error"] < 0.2
    assert report["shape"]["hidden"] == 64 and report["dtype"] == "float32"
