"""Two real ranks (`deepspeed --num_gpus 2`, gloo): an interrupted run resumed with resume=auto
gives the same loss at every step and the same final weights as an uninterrupted one."""

import pytest
from e2e_helpers import RESUMABLE_FINETUNE, assert_resumed_equals_uninterrupted, losses, run_cli

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("zero", [2, 3])
def test_interrupted_and_resumed_equals_uninterrupted(workspace, tmp_path, zero):
    # 8 steps: 32 samples / (2 ranks x batch 2)
    full, split = tmp_path / "full", tmp_path / "split"
    args = RESUMABLE_FINETUNE + [f"train.deepspeed.zero_stage={zero}"]
    run_cli(workspace, args + [f"output_dir={full}"], ranks=2)
    run_cli(workspace, args + [f"output_dir={split}", "train.stop_after=3"], ranks=2)
    assert not (split / "export" / "ft").exists()  # stopped early: no export yet
    assert sorted(losses(split, "ft")) == [1, 2, 3]
    run_cli(workspace, args + [f"output_dir={split}", "resume=auto"], ranks=2)

    assert_resumed_equals_uninterrupted(full, split, steps=8)
