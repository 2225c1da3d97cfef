"""Two real ranks (`deepspeed --num_gpus 2`, gloo, ZeRO-3) with data.packing and loader workers:
a run interrupted in the middle of its packed epoch and resumed with resume=auto gives the same
loss at every step and the same final weights as an uninterrupted one; every logged step says
how long it waited for data."""

import json

import pytest
import torch
from e2e_helpers import losses, run_cli
from safetensors.torch import load_file

pytestmark = pytest.mark.slow

# one fine-tuning stage, 4 steps (32 samples / (2 ranks x 4)): 4 samples of unequal length
# share rows; dropout on, so a resume that forgot any rank's RNG state would drift
ARGS = [
    "stages=[{name: ft, kind: moka_finetune, epochs: 1, optim: {lr: 0.003, warmup_ratio: 0.2}}]",
    "train.micro_batch_size=4",
    "adapter.dropout=0.1",
    "train.save_every=100",
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

    expected, got = losses(full, "ft"), losses(split, "ft")
    assert sorted(expected) == sorted(got) == [1, 2, 3, 4]
    for step in expected:
        assert got[step] == pytest.approx(expected[step], rel=1e-6), step
    a = load_file(str(full / "export" / "ft" / "adapter.safetensors"))
    b = load_file(str(split / "export" / "ft" / "adapter.safetensors"))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=1e-6, atol=1e-8) for k in a)
    assert any(a[k].abs().sum() > 0 for k in a if "lora_B" in k)  # it really trained
    rows = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
    assert all(0.0 <= r["data_wait_share"] <= 1.0 and r["data_wait_s"] >= 0.0 for r in rows if r["stage"] == "ft")
