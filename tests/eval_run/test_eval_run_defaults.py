"""`evaluate run` defaults (issue 33): predictions under the run's output_dir, never inside the
export; the demo's held-out QA runs as its own benchmark, synthetic_avqa."""

import json
from pathlib import Path

from tiny_export import build_export

from moka_train.cli import main

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"


def test_predictions_go_under_the_runs_output_dir_and_the_demo_qa_is_scored(workspace, tmp_path, capsys):
    cfg, export, _ = build_export(workspace, tmp_path / "exports")
    before = sorted(p.name for p in export.iterdir())
    run_dir = tmp_path / "run"
    argv = ["evaluate", "run", "--config", str(CONFIG), "--checkpoint", str(export), "--benchmark", "synthetic_avqa"]
    argv += ["--input", str(cfg.data.train_file), "--limit", "4", "--max-new-tokens", "2", f"output_dir={run_dir}"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expected = run_dir / "predictions" / "ft_synthetic_avqa_all.jsonl"
    assert result["predictions"] == str(expected) and len(expected.read_text().splitlines()) == 4
    assert sorted(p.name for p in export.iterdir()) == before  # nothing written into the export
    assert result["benchmark"] == "synthetic_avqa" and result["n"] == 4 and 0.0 <= result["value"] <= 100.0
    assert set(result["tasks"]) <= {"colour", "tone", "direction", "av_colour_tone"}
