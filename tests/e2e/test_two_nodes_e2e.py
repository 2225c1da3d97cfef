"""Two "nodes" on one machine (`torchrun --nnodes 2`, one process each, rendezvous on 127.0.0.1,
gloo): a ZeRO-2 stage is interrupted, saved and resumed, and gives the uninterrupted run's losses.

Output layouts: one shared output_dir (a shared filesystem: global rank 0 writes the checkpoint
bookkeeping and the export), and node-local disks, simulated by giving each node its own
output_dir: each node's local rank 0 then writes its own complete checkpoint (DeepSpeed's model
states included) and export, so each node resumes from its own disk. What "rank 0" writes:
  checkpoint bookkeeping (partial dir, trainer_state, checksums, COMPLETE, rename, latest, pruning),
  the stage export (a later stage's init_from reads it on every node)  -> each node (node-local);
  config.yaml, metrics.jsonl, data_report_<stage>.json (read by people, not by ranks) -> global rank 0.
"""

import os
import subprocess
import sys

import pytest
from e2e_helpers import DEMO_CONFIG, RESUMABLE_FINETUNE, ROOT, losses
from processes import free_port

pytestmark = pytest.mark.slow

COMMON = [
    *RESUMABLE_FINETUNE,
    "train.max_steps=2",
    "train.deepspeed.zero_stage=2",
    "data.num_workers=0",
]


def two_nodes(workspace, dirs: tuple, args: list[str]) -> None:
    """One torchrun per node, node ``i`` writing under ``dirs[i]``; both must exit 0."""
    port = free_port()
    env = {**os.environ, "DEMO_ROOT": str(workspace), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    procs = []
    for node, out in enumerate(dirs):
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            "2",
            "--nproc-per-node",
            "1",
            "--node-rank",
            str(node),
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(port),
            str(ROOT / "scripts" / "train.py"),
            "--config",
            str(DEMO_CONFIG),
            *COMMON,
            *args,
            f"output_dir={out}",
        ]
        procs.append(
            subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for node, (proc, text) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 0, f"node {node} exited {proc.returncode}:\n{text[-5000:]}"


@pytest.fixture(scope="module")
def uninterrupted(workspace, tmp_path_factory):
    """The losses of the run without a stop (the layout does not change them)."""
    out = tmp_path_factory.mktemp("two_nodes") / "full"
    two_nodes(workspace, (out, out), [])
    return losses(out, "ft")


@pytest.mark.parametrize("layout", ["shared", "node_local"])
def test_two_nodes_save_and_resume_exactly(workspace, tmp_path, layout, uninterrupted):
    dirs = (tmp_path / "run",) * 2 if layout == "shared" else (tmp_path / "node0", tmp_path / "node1")
    two_nodes(workspace, dirs, ["train.stop_after=1"])
    for out in set(dirs):  # every node holds a complete checkpoint of its own (one, when shared)
        (ckpt,) = [p for p in (out / "checkpoints").iterdir() if p.is_dir()]
        assert (ckpt / "COMPLETE").is_file() and (ckpt / "checksums.json").is_file(), sorted(ckpt.iterdir())
        assert not list((out / "checkpoints").glob("*.partial"))
    two_nodes(workspace, dirs, ["resume=auto"])
    expected, got = uninterrupted, losses(dirs[0], "ft")
    assert sorted(expected) == sorted(got) == [1, 2]
    for step in expected:
        assert got[step] == pytest.approx(expected[step], rel=1e-6), step
    for out in set(dirs):  # each node has the export a later stage would load
        assert (out / "export" / "ft" / "manifest.json").is_file()
    if layout == "node_local":
        assert not (dirs[1] / "metrics.jsonl").exists()  # people's files: global rank 0 only
