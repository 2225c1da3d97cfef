"""The CLI: validate prints a config that loads back; deepspeed's --local_rank is accepted."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from recipe_inputs import create_recipe_inputs

from moka_train.cli import main
from moka_train.config import load_config

ROOT = Path(__file__).resolve().parents[1]

RECIPE = {
    "model": {"llm_path": "llm", "dtype": "float32"},
    "data": {"root": "data"},
    "stages": [{"name": "ft", "kind": "moka_finetune"}],
}


def recipe_with_inputs(tmp_path: Path) -> Path:
    """RECIPE with its inputs under tmp_path, stand-ins created (validate refuses missing paths)."""
    recipe = {**RECIPE, "model": {**RECIPE["model"], "llm_path": str(tmp_path / "llm")}}
    recipe["data"] = {"root": str(tmp_path / "data"), "train_file": str(tmp_path / "data" / "train.jsonl")}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    create_recipe_inputs(path)
    return path


def test_validate_prints_loadable_yaml(tmp_path, capsys):
    path = recipe_with_inputs(tmp_path)
    assert main(["validate", "--config", str(path), "adapter.rank=12"]) == 0
    printed = tmp_path / "printed.yaml"
    printed.write_text(capsys.readouterr().out)
    assert load_config(printed).adapter.rank == 12
    assert load_config(printed) == load_config(path, ["adapter.rank=12"])


def test_bad_key_exits_2_with_message(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(RECIPE))
    assert main(["validate", "--config", str(path), "adapter.rnk=3"]) == 2
    assert "adapter.rank" in capsys.readouterr().err


def test_train_script_accepts_local_rank_and_dry_run(tmp_path):
    path = recipe_with_inputs(tmp_path)
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "train.py"),
            "--local_rank=0",
            "--config",
            str(path),
            "--dry-run",
            "train.seed=3",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert yaml.safe_load(out)["train"]["seed"] == 3


def test_dry_run_reports_paper_token_budget_and_parameters(tmp_path, monkeypatch, capsys):
    """LLaMA-2-7B + CLIP ViT-L/14 shapes (config files only, no weights): 10 frames x 32 queries,
    MokA r=4 over text+video+audio, and the Q-Former projector of the paper."""
    from transformers import CLIPVisionConfig, LlamaConfig

    models = tmp_path / "models"
    LlamaConfig(
        hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, vocab_size=32000
    ).save_pretrained(models / "Llama-2-7b-chat-hf")
    CLIPVisionConfig(
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=24,
        num_attention_heads=16,
        patch_size=14,
        image_size=224,
    ).save_pretrained(models / "clip-vit-large-patch14")
    monkeypatch.setenv("MODEL_ROOT", str(models))
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("PRETRAIN_EXPORT", str(tmp_path / "pretrain"))
    create_recipe_inputs(ROOT / "configs" / "avqa_llama2.yaml")  # the data and the BEATs file: empty stand-ins
    assert main(["train", "--config", str(ROOT / "configs" / "avqa_llama2.yaml"), "--dry-run"]) == 0
    summary = yaml.safe_load(
        "\n".join(
            line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("# ") and "---" not in line
        )
    )
    assert summary["tokens_per_sample"] == {"video": 320, "audio": 320}
    params = summary["trainable_parameters"]
    assert params["adapter"] == 19_103_744  # the figure for MokA, 2 modalities + text
    assert params["projector.video"] == 39_649_280  # LayerNorm + 2-layer Q-Former + queries + MLP
    assert params["projector.audio"].startswith("unknown: checkpoint metadata not found")


def test_validate_refuses_an_unregistered_adapter_method_naming_the_choices(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(RECIPE))
    assert main(["validate", "--config", str(path), "adapter.method=mokaa"]) == 2
    err = capsys.readouterr().err
    assert "adapter.method" in err and "'mokaa'" in err and "moka_proj" in err and "lora" in err


def test_lmms_tasks_writes_one_absolute_task_file_per_benchmark(tmp_path, capsys):
    from moka_train.integrations.lmms.tasks import TASKS

    data = tmp_path / "music.jsonl"
    data.write_text("")
    out = tmp_path / "tasks"
    argv = ["lmms-tasks", "--output", str(out), "--music-avqa", str(data), "--media-root", str(tmp_path)]
    assert main(argv) == 0
    written = out / f"{TASKS['music_avqa']}.yaml"
    assert capsys.readouterr().out == f"{written}\n"  # one written path per line, nothing else
    assert str(data.resolve()) in written.read_text() and sorted(p.name for p in out.iterdir()) == [written.name]


def test_lmms_tasks_without_a_benchmark_file_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:  # argparse's usage error: exit 2, the message on stderr
        main(["lmms-tasks", "--output", str(tmp_path), "--media-root", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "give --music-avqa and/or --ave" in capsys.readouterr().err


def test_config_reference_writes_the_schema_reference(tmp_path):
    from moka_train.config.reference import config_reference

    out = tmp_path / "docs" / "ref.md"
    assert main(["config-reference", "--output", str(out)]) == 0
    assert out.read_text() == config_reference()


def test_infer_with_nothing_to_answer_exits_1_before_loading_a_model(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(RECIPE))  # no data.eval_file; llm "llm" and no export exist
    assert main(["infer", "--config", str(path)]) == 2  # user input: exit 2
    err = capsys.readouterr().err
    assert err == "error: infer: give --question (with --video/--audio/...), --input, or set data.eval_file\n"


def test_evaluate_subcommands_go_through_the_one_parser(capsys):
    from moka_train.cli import build_parser
    from moka_train.cli.errors import interrupted_message
    from moka_train.cli.evaluate_run import cmd_run

    with pytest.raises(SystemExit) as done:
        main(["evaluate", "--help"])
    assert done.value.code == 0 and "{run,score,report}" in capsys.readouterr().out
    for action, flag in (("run", "--adapter-modalities"), ("score", "--annotations"), ("report", "--output")):
        with pytest.raises(SystemExit) as done:
            main(["evaluate", action, "--help"])
        out = capsys.readouterr().out
        assert done.value.code == 0 and out.startswith(f"usage: moka-train evaluate {action}") and flag in out
    for bad, said in (  # argparse's usage errors, as for every command: exit 2
        (["--bogus"], "moka-train: error: unrecognized arguments: --bogus"),
        (["--mode", "loose"], "moka-train evaluate score: error: argument --mode: invalid choice: 'loose'"),
    ):
        with pytest.raises(SystemExit) as done:
            main(["evaluate", "score", "--benchmark", "pope", "--predictions", "p.jsonl", *bad])
        assert done.value.code == 2 and capsys.readouterr().err.splitlines()[-1].startswith(said)
    run = ["evaluate", "run", "--config", "c", "--checkpoint", "e", "--benchmark", "pope", "--input", "i"]
    args = build_parser().parse_args([*run, "data.root=/d", "train.seed=3"])  # trailing config overrides
    assert (args.command, args.func, args.overrides) == ("evaluate", cmd_run, ["data.root=/d", "train.seed=3"])
    assert "answered samples are kept and skipped" in interrupted_message(args)  # Ctrl-C still worded for evaluate


def test_train_is_its_own_command_module_with_the_same_flags():
    from moka_train.cli import build_parser
    from moka_train.cli.train import cmd_train

    args = build_parser().parse_args(["train", "--local_rank=0", "--config", "c.yaml", "--dry-run", "train.seed=3"])
    assert (args.func, args.dry_run, args.overrides, args.config) == (cmd_train, True, ["train.seed=3"], "c.yaml")


def test_version_names_the_package_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"moka-train {version('moka-train')}"
