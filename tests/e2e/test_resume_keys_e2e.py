"""Resume checks what DeepSpeed loaded, and resumes a run that never saw one modality
(resume_module_keys.py runs in its own process: DeepSpeed initialises torch.distributed)."""

from pathlib import Path

from e2e_helpers import run_script

HERE = Path(__file__).resolve().parent


def test_missing_module_fails_by_name_and_an_unseen_modality_resumes(tmp_path):
    run_script(HERE / "resume_module_keys.py", tmp_path, "RESUME-KEYS-OK")
