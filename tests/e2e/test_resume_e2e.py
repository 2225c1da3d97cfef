"""Two real ranks (`deepspeed --num_gpus 2`, gloo): an interrupted run resumed with resume=auto
gives the same loss at every step and the same final weights as an uninterrupted one."""

import pytest
import torch
from e2e_helpers import losses, run_cli
from safetensors.torch import load_file

pytestmark = pytest.mark.slow

# one fine-tuning stage, 8 steps (32 samples / (2 ranks x batch 2)); dropout on, so a resume
# that forgot any rank's RNG state would drift
COMMON = [
    "stages=[{name: ft, kind: moka_finetune, epochs: 1, optim: {lr: 0.003, warmup_ratio: 0.2}}]",
    "train.micro_batch_size=2",
    "adapter.dropout=0.1",
    "train.save_every=100",
]


@pytest.mark.parametrize("zero", [2, 3])
def test_interrupted_and_resumed_equals_uninterrupted(workspace, tmp_path, zero):
    full, split = tmp_path / "full", tmp_path / "split"
    args = COMMON + [f"train.deepspeed.zero_stage={zero}"]
    run_cli(workspace, args + [f"output_dir={full}"], ranks=2)
    run_cli(workspace, args + [f"output_dir={split}", "train.stop_after=3"], ranks=2)
    assert not (split / "export" / "ft").exists()  # stopped early: no export yet
    assert sorted(losses(split, "ft")) == [1, 2, 3]
    run_cli(workspace, args + [f"output_dir={split}", "resume=auto"], ranks=2)

    expected, got = losses(full, "ft"), losses(split, "ft")
    assert sorted(expected) == sorted(got) == list(range(1, 9))
    for step in expected:
        assert got[step] == pytest.approx(expected[step], rel=1e-6), step
    a = load_file(str(full / "export" / "ft" / "adapter.safetensors"))
    b = load_file(str(split / "export" / "ft" / "adapter.safetensors"))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=1e-6, atol=1e-8) for k in a)
    assert any(a[k].abs().sum() > 0 for k in a if "lora_B" in k)  # it really trained
