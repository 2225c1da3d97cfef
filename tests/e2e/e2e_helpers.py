"""Helpers of the end-to-end tests: run the real CLI and scripts, read their metrics and exports,
compare runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from processes import free_port
from safetensors.torch import load_file

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
            str(free_port()),
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


# one fine-tuning stage, resumable and worth resuming: dropout on (a resume that forgot any rank's
# RNG state would drift), no periodic save
RESUMABLE_FINETUNE = [
    "stages=[{name: ft, kind: moka_finetune, epochs: 1, optim: {lr: 0.003, warmup_ratio: 0.2}}]",
    "train.micro_batch_size=2",
    "adapter.dropout=0.1",
    "train.save_every=100",
]


def run_script(script: Path, tmp_path: Path, ok: str) -> None:
    """A test script in its own process (DeepSpeed initialises torch.distributed there), on a
    checkpoint folder under ``tmp_path``; it must exit 0 and print ``ok``."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(script.parent)]),
        "MASTER_PORT": str(free_port()),  # other DeepSpeed processes may hold the default port
    }
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "ckpt")], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0 and ok in proc.stdout, proc.stdout[-3000:] + proc.stderr[-5000:]


def zero3_one_modality_per_rank(workspace: Path, tmp_path: Path, *args: str) -> Path:
    """Two ZeRO-3 ranks on the single-modality pair, a batch of one each: in every step one rank
    has no video and the other no audio. Returns the run's output_dir."""
    data = single_modality_pair(workspace, tmp_path / "mixed.jsonl")
    out = tmp_path / "run"
    run_cli(
        workspace,
        [
            f"output_dir={out}",
            f"data.train_file={data}",
            "data.group_by_modality=false",
            "train.micro_batch_size=1",
            "train.deepspeed.zero_stage=3",
            *args,
        ],
        ranks=2,
        timeout=500,
    )
    return out


def assert_resumed_equals_uninterrupted(full: Path, split: Path, steps: int) -> None:
    """The resumed run logged the uninterrupted run's loss at every step and exported its weights."""
    expected, got = losses(full, "ft"), losses(split, "ft")
    assert sorted(expected) == sorted(got) == list(range(1, steps + 1))
    for step in expected:
        assert got[step] == pytest.approx(expected[step], rel=1e-6), step
    a = load_file(str(full / "export" / "ft" / "adapter.safetensors"))
    b = load_file(str(split / "export" / "ft" / "adapter.safetensors"))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=1e-6, atol=1e-8) for k in a)
    assert any(a[k].abs().sum() > 0 for k in a if "lora_B" in k)  # it really trained


def export_roles(out: Path, stage: str) -> list[str]:
    manifest = json.loads((out / "export" / stage / "manifest.json").read_text())
    return sorted(entry["role"] for entry in manifest["files"].values())


def finetuned_adapter(out: Path, roles: list[str], steps: int = 48) -> dict[str, torch.Tensor]:
    """The fine-tuning stage learned (``steps`` steps, its late loss well under its early one) and
    exported ``roles``: its adapter, every B trained away from zero."""
    ft = list(losses(out, "finetune").values())
    assert len(ft) == steps
    early, late = sum(ft[:5]) / 5, sum(ft[-8:]) / 8
    assert late < early - 1.0, (early, late)
    assert export_roles(out, "finetune") == roles
    adapter = load_file(str(out / "export" / "finetune" / "adapter.safetensors"))
    lora_b = [k for k in adapter if "lora_B" in k]
    assert lora_b and all(adapter[k].abs().sum() > 0 for k in lora_b)
    return adapter
