"""Two real ranks (`deepspeed --num_gpus 2`, gloo, ZeRO-3) with data.packing and loader workers:
a run interrupted in the middle of its packed epoch and resumed with resume=auto gives the same
loss at every step and the same final weights as an uninterrupted one; every logged step says
how long it waited for data."""

import json

import pytest
from e2e_helpers import RESUMABLE_FINETUNE, assert_resumed_equals_uninterrupted, losses, run_cli

pytestmark = pytest.mark.slow

# the resumable fine-tuning, 4 steps (32 samples / (2 ranks x 4)): 4 samples of unequal length share rows
ARGS = [
    *RESUMABLE_FINETUNE,
    "train.micro_batch_size=4",
    "data.packing=true",
    "data.packing_cost=tokens",
    "data.num_workers=1",
    "train.deepspeed.zero_stage=3",
]


def test_packed_run_interrupted_mid_epoch_and_resumed_equals_uninterrupted(workspace, tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    run_cli(workspace, ARGS + [f"output_dir={full}"], ranks=2)
    run_cli(workspace, ARGS + [f"output_dir={split}", "train.stop_after=2"], ranks=2)
    assert sorted(losses(split, "ft")) == [1, 2]
    run_cli(workspace, ARGS + [f"output_dir={split}", "resume=auto"], ranks=2)

    assert_resumed_equals_uninterrupted(full, split, steps=4)
    rows = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
    assert all(0.0 <= r["data_wait_share"] <= 1.0 and r["data_wait_s"] >= 0.0 for r in rows if r["stage"] == "ft")
