"""A crafted checkpoint cannot run code on resume: DeepSpeed's own files are read with
weights_only=True too (crafted_checkpoint.py runs in its own process: DeepSpeed initialises
torch.distributed)."""

import os
import subprocess
import sys
from pathlib import Path

from e2e_helpers import ROOT

HERE = Path(__file__).resolve().parent


def test_payload_in_model_or_zero_optimizer_states_is_refused_and_never_runs(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}
    proc = subprocess.run(
        [sys.executable, str(HERE / "crafted_checkpoint.py"), str(tmp_path / "ckpt")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and "CRAFTED-REFUSED-OK" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert not list((tmp_path / "ckpt").glob("PWNED*"))
