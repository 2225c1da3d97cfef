"""Resume checks what DeepSpeed loaded, and resumes a run that never saw one modality
(resume_module_keys.py runs in its own process: DeepSpeed initialises torch.distributed)."""

import os
import subprocess
import sys
from pathlib import Path

from e2e_helpers import ROOT, _free_port

HERE = Path(__file__).resolve().parent


def test_missing_module_fails_by_name_and_an_unseen_modality_resumes(tmp_path):
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]),
        "MASTER_PORT": str(_free_port()),
    }  # other DeepSpeed processes may hold the default port
    proc = subprocess.run(
        [sys.executable, str(HERE / "resume_module_keys.py"), str(tmp_path / "ckpt")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and "RESUME-KEYS-OK" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-5000:]
