"""Helpers of the end-to-end tests: run the real CLI, read its metrics."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "configs" / "tiny_avqa.yaml"


def run_cli(
    workspace: Path, args: list[str], ranks: int = 0, timeout: int = 600, expect_rc: int = 0
) -> subprocess.CompletedProcess:
    """scripts/train.py as a user runs it: plain python (ranks=0) or `deepspeed --num_gpus N`;
    fails unless it exits with ``expect_rc``."""
    env = {**os.environ, "DEMO_ROOT": str(workspace), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    launcher = (
        [
            sys.executable,
            "-m",
            "deepspeed.launcher.runner",
            "--num_gpus",
            str(ranks),
            "--master_port",
            str(_free_port()),
        ]
        if ranks
        else [sys.executable]
    )
    cmd = launcher + [str(ROOT / "scripts" / "train.py"), "--config", str(DEMO_CONFIG)] + args
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if proc.returncode != expect_rc:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}, not {expect_rc}:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def losses(output_dir: Path, stage: str) -> dict[int, float]:
    rows = [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if r["stage"] == stage}


def single_modality_pair(workspace: Path, path: Path) -> Path:
    """Two samples of the workspace's QA, one video-only and one audio-only, written to ``path``:
    in ungrouped batches of one per rank, every step one rank has no audio and the other no video."""
    rows = [json.loads(line) for line in (workspace / "data" / "av_qa.jsonl").read_text().splitlines()[:2]]
    only = (  # (id, the modality dropped, question, answer)
        ("v", "audio", "This is a video:\n<video>\nPlease answer this question: What colour?", "red"),
        ("a", "video", "This is an audio:\n<audio>\nPlease answer this question: High or low?", "low"),
    )
    samples = []
    for row, (sample_id, dropped, question, answer) in zip(rows, only):
        sample = {k: v for k, v in row.items() if k != dropped}
        conversation = [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]
        samples.append({**sample, "id": sample_id, "conversations": conversation})
    path.write_text("".join(json.dumps(sample) + "\n" for sample in samples))
    return path
