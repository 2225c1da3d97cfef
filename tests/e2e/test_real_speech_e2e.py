"""A shortened `make demo-real` on the real weights (Whisper tiny.en, SmolLM2-135M-Instruct), then
the real LLM through every front door on its export: `evaluate run` (inside the demo), `infer`,
`serve` answered through the official openai client, and `show-sample` rendering SmolLM2's own
ChatML template. Needs `make real-weights` (marker ``real_weights``: fails in CI without it).

The short run: 16 training clips, projector pretraining for 1 epoch (2 steps of 8) and MokA
fine-tuning for 2 (4 steps), held out on 2 unseen-voice clips and the 6 real recordings. So short
a run teaches the answer's form (a few task words instead of the instruct model's chatty
sentence), which is what the WER margin over the projector-only model checks; reading the words
off the audio takes the full demo's length."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys

import openai
import pytest
from e2e_helpers import ROOT
from processes import free_port, serve_command, wait_until_serving
from real.conftest import require_pocketsphinx, require_real

pytestmark = [pytest.mark.real_weights, pytest.mark.slow]
CONFIG = ROOT / "configs" / "real_speech_smollm2.yaml"
SHORT = [
    "--train-samples",
    "16",
    "--heldout-samples",
    "2",
    "--pretrain-epochs",
    "1",
    "--epochs",
    "2",
    "train.log_every=1",
]
QUESTION = "Recognize the speech and give me the transcription."


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    weights = require_real("smollm2-135m-instruct").parent
    require_real("whisper-tiny.en")
    require_pocketsphinx()
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (make real-weights installs it)")
    out = tmp_path_factory.mktemp("demo_real")
    env = {**os.environ, "OMP_NUM_THREADS": "2", "WANDB_MODE": "disabled", "MOKA_REAL_WEIGHTS": str(weights)}
    cmd = [sys.executable, str(ROOT / "scripts" / "demo_real.py"), "--output-dir", str(out), "--methods", "moka"]
    proc = subprocess.run(cmd + SHORT, env=env, capture_output=True, text=True, timeout=2400, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    roots = {**env, "MODEL_ROOT": str(weights), "DEMO_ROOT": str(out)}
    return out, proc.stdout, roots


def cli(roots: dict, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "moka_train.cli", *args], env=roots, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def test_short_real_demo_learns_the_spoken_words(demo):
    out, stdout, _ = demo
    table = json.loads(stdout.strip().splitlines()[-1])
    assert sorted(table) == ["moka", "projector only"]
    assert {s: table["moka"][s]["n"] for s in ("unseen_voices", "real")} == {"unseen_voices": 2, "real": 6}
    assert "held-out transcription" in stdout and (out / "wer.png").read_bytes()[:4] == b"\x89PNG"
    losses = [json.loads(line)["loss"] for line in (out / "run_moka" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0] - 1.0, losses  # fine-tuning on the real LLM lowers the loss
    # before fine-tuning the instruct model answers in its own chatty words; after, with the task's
    assert table["moka"]["unseen_voices"]["wer"] < table["projector only"]["unseen_voices"]["wer"] - 20, table


def test_show_sample_renders_smollm2s_own_chat_template(demo):
    _, _, roots = demo
    shown = cli(roots, "show-sample", "--config", str(CONFIG)).stdout
    # show-sample prints token by token, "|" between tokens: SmolLM2's ChatML markers as its tokenizer splits them
    rendered = ["<|im_start|>|system|\\n", "<|im_start|>|user|\\n", "|This| is| a| speech|:|\\n", "[speech x16]"]
    rendered += ["<|im_end|>|\\n", "<|im_start|>|ass|istant|\\n"]
    for marker in rendered:
        assert marker in shown, shown[-2000:]


def test_infer_and_serve_answer_with_the_real_model(demo):
    out, _, roots = demo
    export = out / "run_moka" / "export" / "finetune"
    clip = out / "data" / "real" / "cards_001.wav"
    overrides = [f"data.root={out / 'data'}"]
    answer = cli(
        roots,
        "infer",
        "--config",
        str(CONFIG),
        "--checkpoint",
        str(export),
        "--speech",
        str(clip),
        "--question",
        QUESTION,
        *overrides,
    ).stdout.strip()
    assert answer and re.fullmatch(r"[a-z ]+", answer.lower()), answer
    port = free_port()
    cmd = serve_command(CONFIG, export, port, out / "data", "real-moka", *overrides)
    server = subprocess.Popen(cmd, env=roots, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_serving(server, f"http://127.0.0.1:{port}/v1/models")
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=300)
        audio = base64.b64encode(clip.read_bytes()).decode()
        reply = client.chat.completions.create(
            model="real-moka",
            max_tokens=32,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}},
                        {"type": "text", "text": QUESTION},
                    ],
                }
            ],
        )
        assert reply.choices[0].message.content.strip() == answer
    finally:
        server.terminate()
        server.wait(timeout=60)
