"""examples/moka_on_your_loop.py runs as a user runs it: MokA on a plain PyTorch loop over an HF
causal LM learns, leaves the base frozen, and its saved adapter reloads to identical logits."""

import json
import os
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]


def test_example_trains_saves_and_reloads(tmp_path):
    out = tmp_path / "adapter"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "moka_on_your_loop.py"), "--steps", "30", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["adapted_layers"] == 2 * 7 and result["adapter_tensors"] == 2 * 7 * 3  # A_text, A_audio, B
    assert result["last_loss"] < result["first_loss"] - 0.3
    assert result["reload_max_abs_diff"] == 0.0 and result["base_unchanged"]
    manifest = json.loads((out / "manifest.json").read_text())  # the one weights format (utils/weights_format.py)
    config = manifest["adapter_spec"]
    assert config["method"] == "moka" and config["modalities"] == ["audio"] and config["temperature"] == "official"
    assert manifest["files"]["adapter.safetensors"]["tensors"] == 2 * 7 * 3
    keys = load_file(str(out / "adapter.safetensors"))
    assert "model.layers.0.self_attn.q_proj.lora_A.audio" in keys and "model.layers.1.mlp.down_proj.lora_B" in keys
