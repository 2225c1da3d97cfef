"""Issue 33: every input train refuses before building anything, validate refuses with the same
message and exit code (2), as one `error:` line; Ctrl-C exits 130 naming `resume=auto`."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moka_train.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs" / "tiny_avqa.yaml")
ONE_STAGE = "stages=[{name: ft, kind: moka_finetune, epochs: 1}]"


def rows_of(workspace: Path) -> list[dict]:
    return [json.loads(line) for line in (workspace / "data" / "av_qa.jsonl").read_text().splitlines()]


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def image_only(workspace: Path, tmp: Path) -> Path:
    """Every sample an image: a modality the tiny model (video, audio) lacks."""
    rows = []
    for r in rows_of(workspace):
        row = {k: v for k, v in r.items() if k not in ("video", "audio")}
        rows.append({**row, "image": r["video"], "conversations": [{"from": "human", "value": "<image>\nColour?"}]})
    return write(tmp / "images.jsonl", rows)


def missing_audio(workspace: Path, tmp: Path) -> Path:
    rows = rows_of(workspace)
    rows[3]["audio"] = "audio/gone.wav"
    return write(tmp / "missing.jsonl", rows)


# (case, overrides given tmp_path and workspace, the refusal's words)
CASES = [
    (
        "train_file",
        lambda w, t: [f"data.train_file={t / 'nope.jsonl'}"],
        "data.train_file: {t}/nope.jsonl does not exist",
    ),
    ("llm_path", lambda w, t: [f"model.llm_path={t / 'no_llm'}"], "model.llm_path: {t}/no_llm does not exist"),
    (
        "encoder",
        lambda w, t: [f"model.modalities.1.encoder.path={t / 'no.pt'}"],
        "model.modalities[1].encoder.path: {t}/no.pt does not exist (the audio encoder",
    ),
    (
        "modality",
        lambda w, t: [f"data.train_file={image_only(w, t)}"],
        "32 of 32 samples carry media the model lacks ({{'image': 32}}",
    ),
    (
        "missing_media_fail",
        lambda w, t: [f"data.train_file={missing_audio(w, t)}", "data.bad_sample_policy=fail"],
        "1 media file(s) do not exist (first: av_00003",
    ),
    (
        "stage_order",
        lambda w, t: ["stages=[{name: a, kind: moka_finetune, init_from: [b]}, {name: b, kind: moka_finetune}]"],
        "stages[0].init_from 'b': stage 'b' does not come before 'a'",
    ),
]


@pytest.mark.parametrize("case, overrides, words", CASES, ids=[c[0] for c in CASES])
def test_train_and_validate_refuse_the_same_input_alike(
    workspace, tmp_path, monkeypatch, capsys, case, overrides, words
):
    import moka_train.model.build as build

    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    monkeypatch.setattr(build, "build_model", lambda *a, **k: pytest.fail("the model was built before the refusal"))
    args = [ONE_STAGE, f"output_dir={tmp_path / 'run'}", *overrides(workspace, tmp_path)]
    assert main(["train", "--config", CONFIG, *args]) == 2
    train_err = capsys.readouterr().err
    assert main(["validate", "--config", CONFIG, *args]) == 2
    validate_err = capsys.readouterr().err
    assert train_err == validate_err and train_err.startswith("error: ") and len(train_err.splitlines()) == 1
    assert words.format(t=tmp_path) in train_err, train_err
    assert not (tmp_path / "run").exists()  # refused before the output dir was claimed


def cli(workspace: Path, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "DEMO_ROOT": str(workspace), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "--config", CONFIG, ONE_STAGE, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT as a terminal delivers it (a background child would otherwise ignore it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **kw,
    )


def test_a_refusal_is_one_line_and_debug_shows_the_traceback(workspace, tmp_path):
    bad = f"data.train_file={tmp_path / 'nope.jsonl'}"
    out, err = cli(workspace, bad, f"output_dir={tmp_path / 'r1'}").communicate(timeout=300)
    assert err.strip().splitlines()[-1].startswith("error: data.train_file: ") and "Traceback" not in err
    proc = cli(workspace, "--debug", bad, f"output_dir={tmp_path / 'r2'}")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1 and "Traceback" in err and "PreflightError: data.train_file" in err


@pytest.mark.slow
def test_ctrl_c_exits_130_and_prints_the_resume_command(workspace, tmp_path):
    out_dir = tmp_path / "run"
    proc = cli(workspace, f"output_dir={out_dir}", "train.save_every=1")
    deadline = time.monotonic() + 300
    while not (out_dir / "checkpoints" / "ft-step00000001").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint after 300 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "error: interrupted (Ctrl-C)" in err and "Traceback" not in err
    again = [line for line in err.splitlines() if line.startswith("continue from the newest checkpoint with: ")]
    assert len(again) == 1 and f"output_dir={out_dir}" in again[0] and again[0].endswith(" resume=auto"), err
