"""scripts/bench_loss.py end to end at a tiny size: both paths measured (memory in child processes,
times interleaved), the old path scaled from a smaller batch when over its budget, and the new
path saving far fewer bytes for backward than the full-vocabulary logits."""

import json
import subprocess
import sys
from pathlib import Path

from moka_train.bench.loss import LossCase, old_batch_that_fits, old_peak_estimate_gb

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_loss.py"


def test_old_batch_shrinks_to_the_budget():
    case = LossCase(vocab=128_256, batch=4, seq=2048)
    assert round(old_peak_estimate_gb(case), 2) == 11.74  # 3 x 4 x 2048 x 128256 fp32
    assert [old_batch_that_fits(case, gb) for gb in (3.0, 6.0, 100.0)] == [1, 2, 4]


def test_script_compares_both_paths_and_marks_extrapolation():
    argv = ["--vocab", "4000", "--hidden", "32", "--seq", "128", "--rounds", "1", "--warmup", "0"]
    argv += ["--old-budget-gb", "0.008"]  # the old path runs at a smaller batch and is scaled
    run = subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    (case,) = report["cases"]
    logits_mb = 4 * 128 * 4000 * 4 / 2**20  # the old path's fp32 logits at B = 4
    assert case["old_extrapolated"] and case["old_measured_at_batch"] < 4
    assert case["old_saved_mb"] >= logits_mb and case["new_saved_mb"] < logits_mb / 20
    assert case["old_peak_mb"] > case["new_peak_mb"] > 0
    assert case["old_s"] > 0 and case["new_s"] > 0 and case["peak_ratio_old_over_new"] > 1
