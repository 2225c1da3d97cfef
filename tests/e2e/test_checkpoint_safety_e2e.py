"""A crafted checkpoint cannot run code on resume: DeepSpeed's own files are read with
weights_only=True too (crafted_checkpoint.py runs in its own process: DeepSpeed initialises
torch.distributed)."""

from pathlib import Path

from e2e_helpers import run_script

HERE = Path(__file__).resolve().parent


def test_payload_in_model_or_zero_optimizer_states_is_refused_and_never_runs(tmp_path):
    run_script(HERE / "crafted_checkpoint.py", tmp_path, "CRAFTED-REFUSED-OK")
    assert not list((tmp_path / "ckpt").glob("PWNED*"))
