"""The real entry point on tiny real models: two stages, learning, exports, strict init_from."""

import hashlib
import json
import os

import pytest
from e2e_helpers import DEMO_CONFIG, losses, run_cli
from safetensors.torch import load_file, save_file

from moka_train.config import load_config
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.model.export import export_weights, load_export
from moka_train.utils.weights_format import ExportError

EXTRA = [a for a in os.environ.get("MOKA_TEST_EXTRA", "").split() if a]  # mutation checks only


def test_two_stage_run_learns_and_exports(workspace, tmp_path):
    out = tmp_path / "run"
    run_cli(workspace, [f"output_dir={out}", "stages.2.epochs=8"])
    first = losses(out, "pretrain_video")
    ft = losses(out, "finetune")
    assert len(first) == 8 and len(ft) == 64  # 32 samples / batch 4 = 8 steps per epoch
    # learning, not only running: from ~ln(vocab) = 6.4 to well below it
    early, late = sum(list(ft.values())[:5]) / 5, sum(list(ft.values())[-8:]) / 8
    assert early > 5.0 and late < 2.0, (early, late)
    manifest = json.loads((out / "export" / "finetune" / "manifest.json").read_text())
    roles = sorted(entry["role"] for entry in manifest["files"].values())
    assert roles == ["adapter", "embeddings", "projector.audio", "projector.video"]
    assert sorted(
        e["role"]
        for e in json.loads((out / "export" / "pretrain_video" / "manifest.json").read_text())["files"].values()
    ) == ["embeddings", "projector.video"]
    assert (out / "loss_finetune.png").stat().st_size > 1000
    assert json.loads((out / "data_report_finetune.json").read_text())["num_bad"] == 0


def test_stage_two_starts_from_stage_one_projector(workspace, tmp_path):
    out = tmp_path / "run"
    # stage 2 barely moves (lr 1e-9): its export is where it started. Adam moves stage 1 by about
    # its lr (1e-3) a step from the seeded initialisation that a stage without init_from starts at.
    run_cli(
        workspace,
        [
            f"output_dir={out}",
            "train.max_steps=2",
            "stages.2.optim.lr=1e-9",
            *EXTRA,
            "train.eval_every=1",
            "train.eval_max_batches=2",
        ],
    )
    stage1 = load_file(str(out / "export" / "pretrain_video" / "projector.video.safetensors"))
    stage2 = load_file(str(out / "export" / "finetune" / "projector.video.safetensors"))
    assert stage1.keys() == stage2.keys()
    drift = max((stage1[k] - stage2[k]).abs().max().item() for k in stage1)
    assert drift < 1e-6, drift
    # the held-out loss sits next to the training loss, every step, in every stage
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    finetune = [r for r in rows if r["stage"] == "finetune"]
    assert [r["step"] for r in finetune] == [1, 2] and all(r["eval_loss"] > 0 and "loss" in r for r in finetune)


def test_missing_key_in_an_earlier_export_fails_by_name(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    cfg = load_config(DEMO_CONFIG)
    model = build_model(cfg.model, load_tokenizer(cfg.model))
    model.projectors.requires_grad_(True)
    export_weights(model, tmp_path / "exp", "", {})
    path = tmp_path / "exp" / "projector.video.safetensors"
    tensors = load_file(str(path))
    dropped = sorted(tensors)[0]
    del tensors[dropped]
    save_file(tensors, str(path))
    # an export written without that key, not a corrupt one: its manifest lists the new file's sha256
    manifest = json.loads((tmp_path / "exp" / "manifest.json").read_text())
    manifest["files"][path.name]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "exp" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match=f"missing keys \\['{dropped}'\\]"):
        load_export(model, tmp_path / "exp")
