"""evaluate run --decoding: ``official`` lets the LLM folder's generation_config.json decide (as
the official inference calls ``generate`` with no sampling arguments), seeded; ``greedy`` (the
default) never samples; the mode is recorded in every row and the settings beside the file."""

import json
import shutil

import pytest
from tiny_export import build_export

from moka_train.cli import build_parser
from moka_train.eval.decoding import Decoding
from moka_train.eval.progress import ProgressError, check_progress, key_file, progress_key, write_key
from moka_train.eval.protocol import MMBENCH_SYSTEM_PROMPT
from moka_train.eval.run import run_generation, with_benchmark_system_prompt

SAMPLING = {"do_sample": True, "temperature": 1.5, "top_p": 1.0, "top_k": 0}


@pytest.fixture(scope="module")
def sampling_llm(workspace, tmp_path_factory):
    """The tiny recipe, its export, and the same config on a copy of the LLM folder whose
    generation_config.json asks for sampling (as Llama-2-7b-chat-hf's does)."""
    cfg, export, _ = build_export(workspace, tmp_path_factory.mktemp("export"))
    llm = tmp_path_factory.mktemp("llm_sampling") / "llm"
    shutil.copytree(cfg.model.llm_path, llm)
    (llm / "generation_config.json").write_text(json.dumps({**SAMPLING, "bos_token_id": 1, "eos_token_id": 2}))
    sampled = cfg.model_copy(update={"model": cfg.model.model_copy(update={"llm_path": str(llm)})})
    return cfg, sampled, export


def predictions(cfg, export, output, decoding=None):
    extra = {"decoding": decoding} if decoding else {}
    run_generation(cfg, export, cfg.data.train_file, output, batch_size=4, max_new_tokens=6, limit=8, **extra)
    return [json.loads(line) for line in output.read_text().splitlines()]


def test_official_mode_samples_as_the_generation_config_says_seeded(sampling_llm, tmp_path):
    cfg, sampled, export = sampling_llm
    runs = {
        name: predictions(sampled, export, tmp_path / f"{name}.jsonl", decoding)
        for name, decoding in {
            "seed1": Decoding("official", 1),
            "seed1_again": Decoding("official", 1),
            "seed2": Decoding("official", 2),
            "greedy_seed1": Decoding("greedy", 1),
        }.items()
    }
    answers = {name: [r["prediction"] for r in rows] for name, rows in runs.items()}
    assert answers["seed1"] == answers["seed1_again"]  # seeded: reproducible
    assert answers["seed1"] != answers["seed2"]  # sampled: the seed changes the answers
    assert answers["seed1"] != answers["greedy_seed1"]
    # greedy ignores the generation config's sampling and the seed: the default decoding (seed 0)
    # on the original LLM folder (a generation config without sampling) gives the same answers
    default = predictions(cfg, export, tmp_path / "default.jsonl")
    assert answers["greedy_seed1"] == [r["prediction"] for r in default]
    assert {r["decoding"] for r in runs["seed1"] + runs["seed2"]} == {"official"}
    assert {r["decoding"] for r in runs["greedy_seed1"]} == {"greedy"}
    meta = json.loads(key_file(tmp_path / "seed1.jsonl").read_text())
    assert meta["decoding"] == {"mode": "official", "seed": 1}
    assert meta["generation"] == {"mode": "official", "seed": 1, **SAMPLING, "num_beams": 1}
    greedy_meta = json.loads(key_file(tmp_path / "greedy_seed1.jsonl").read_text())
    assert greedy_meta["generation"] == {"mode": "greedy", "do_sample": False, "num_beams": 1}


def test_resume_with_another_decoding_is_refused_and_old_files_read_as_greedy(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a"}\n')
    output = tmp_path / "preds.jsonl"
    output.write_text('{"id": "a", "prediction": "x"}\n')
    greedy = progress_key(tmp_path, None, "pope", source, 8, Decoding().identity())
    legacy = {k: v for k, v in greedy.items() if k != "decoding"}  # written before the decoding modes
    write_key(output, legacy)
    check_progress(output, greedy, [])  # resumes: it was greedy
    official = progress_key(tmp_path, None, "pope", source, 8, Decoding("official", 3).identity())
    with pytest.raises(
        ProgressError, match="decoding: \\{'mode': 'greedy'\\} there, \\{'mode': 'official', 'seed': 3\\}"
    ):
        check_progress(output, official, [])


def test_unknown_decoding_is_refused_naming_the_choices(capsys):
    with pytest.raises(ValueError, match="unknown mode 'beam'; choose from greedy, official"):
        Decoding("beam")
    base = ["evaluate", "run", "--config", "c", "--checkpoint", "e", "--benchmark", "pope", "--input", "i"]
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--decoding", "beam"])
    err = capsys.readouterr().err
    assert "--decoding: invalid choice: 'beam'" in err and "greedy" in err and "official" in err
    args = build_parser().parse_args(base)
    assert (args.decoding, args.seed) == ("greedy", 0)


def test_mmbench_runs_with_its_official_system_prompt(sampling_llm):
    cfg = sampling_llm[0]
    assert with_benchmark_system_prompt(cfg, "mmbench").data.system_prompt == MMBENCH_SYSTEM_PROMPT
    assert with_benchmark_system_prompt(cfg, "pope").data.system_prompt == cfg.data.system_prompt
    assert with_benchmark_system_prompt(cfg, None) is cfg
