"""The real-speech recipe (configs/real_speech_smollm2.yaml) with ``model.llm_path`` at the real
Qwen2.5-Coder-0.5B-Instruct (Qwen2 architecture, its own ChatML template): the converted folder
loads strictly through ``load_llm``, one MokA fine-tuning stage of 3 steps on one real recording
lowers the loss, and `evaluate run` (the benchmarks' path) answers with text ended by a stop token.

Optional artifact (490 MB, not fetched by `make real-weights` nor CI): skipped unless
`scripts/fetch_real_weights.py --only qwen2.5-coder-0.5b-instruct` ran. About 2 minutes on 2 cores."""

import json
import math
from pathlib import Path

import pytest

from moka_train.cli import main as cli_main
from moka_train.config import load_config
from moka_train.config.sections.model import ModelConfig
from moka_train.eval.protocol import ASR_INSTRUCTION, asr_prompt
from moka_train.model.build import load_llm
from moka_train.testing.spoken_cards import Instruction, eval_record, real_rows, training_record, write_jsonl
from moka_train.train.run import run
from moka_train.utils.jsonl import read_objects
from real.conftest import require_optional_real, require_pocketsphinx, require_real

pytestmark = [pytest.mark.real_weights, pytest.mark.slow]
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "real_speech_smollm2.yaml"
QWEN = "qwen2.5-coder-0.5b-instruct"
ASR = Instruction(asr_prompt(), ASR_INSTRUCTION)
STEPS, BUDGET = 3, 24


def test_qwen2_loads_strictly():
    qwen = require_optional_real(QWEN)
    llm = load_llm(ModelConfig(llm_path=str(qwen), dtype="float32"))
    assert type(llm).__name__ == "Qwen2ForCausalLM"
    assert (llm.config.num_hidden_layers, llm.config.hidden_size) == (24, 896)


def test_the_speech_recipe_on_qwen2_trains_one_stage_and_answers(tmp_path, monkeypatch, capsys):
    qwen = require_optional_real(QWEN)
    require_real("whisper-tiny.en")
    clip = real_rows(tmp_path / "data", require_pocketsphinx())[0]  # a real human recording
    write_jsonl(tmp_path / "data" / "train.jsonl", [training_record(clip, ASR)] * 2)
    write_jsonl(tmp_path / "data" / "pretrain.jsonl", [training_record(clip, None)])  # the recipe names it
    heldout = write_jsonl(tmp_path / "data" / "heldout.jsonl", [eval_record(clip, "real", ASR)])
    monkeypatch.setenv("MODEL_ROOT", str(qwen.parent))
    monkeypatch.setenv("DEMO_ROOT", str(tmp_path))
    overrides = [f"model.llm_path={qwen}", "overwrite=true", "train.micro_batch_size=2", "train.log_every=1"]
    overrides += [f"train.max_steps={STEPS}", f"stages.1.epochs={STEPS}"]
    cfg = load_config(CONFIG, overrides)
    stage = cfg.stages[-1].model_copy(update={"init_from": ()})  # the fine-tuning stage alone, fresh projector
    run(cfg.model_copy(update={"stages": (stage,)}))

    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if "loss" in m]
    assert len(losses) == STEPS and all(math.isfinite(x) for x in losses), losses
    assert losses[-1] < losses[0] - 0.1, losses  # the same batch each step: the update helped

    export = tmp_path / "run" / "export" / stage.name
    output = tmp_path / "predictions.jsonl"
    argv = ["evaluate", "run", "--config", str(CONFIG), "--checkpoint", str(export), "--benchmark", "asr_wer"]
    argv += ["--input", str(heldout), "--output", str(output), "--max-new-tokens", str(BUDGET), *overrides]
    assert cli_main(argv) == 0, capsys.readouterr().err[-3000:]
    ((_, row),) = list(read_objects(output))
    print("qwen2 losses", losses, "answer", json.dumps(row["raw_prediction"]), "truth", row["answer"])
    assert row["prediction"].strip(), row
    # stopped by the template's end-of-turn token, not by the budget
    assert row["generated_tokens"] < BUDGET and row["raw_prediction"].endswith("<|im_end|>"), row
