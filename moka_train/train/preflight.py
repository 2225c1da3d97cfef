"""Checks that need no weights, run before anything is built: by `train` (first thing in
``run``) and by `validate`, so both refuse the same inputs with the same message.

* paths exist: the LLM and tokenizer directories, every encoder checkpoint, data.root and each
  stage's train file (and its eval file where ``train.eval_every`` reads one);
* stage order (``check_stage_order``): init_from names an earlier stage or an export directory;
* data readable: every stage's train file parses as the unified JSONL (a bad line names file:line);
* modalities present: every sample's media keys are modalities of the stage's model (or keys a
  modality accepts); under ``bad_sample_policy: fail`` one such sample refuses the run, under
  ``skip`` more than ``data.max_bad_fraction`` of them does (what the dataset would refuse after
  the model is built);
* media files exist under ``bad_sample_policy: fail`` (the first missing file would stop the run
  mid-epoch).

Each refusal is a :class:`PreflightError` whose message says what is wrong, where (the key, file
and sample) and what to do.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..config.schema import RunConfig, StageConfig
from ..data.accepts import accepted_keys, read_accepted
from ..data.records import DEFAULT_MEDIA_KEYS, read_records
from ..data.specs import modality_specs
from .data import stage_data_config
from .stages import check_stage_order, stage_model_config

SHOWN = 3  # samples named in a message


class PreflightError(ValueError):
    """An input train would refuse once started: what, where, what to do."""


def preflight(cfg: RunConfig) -> None:
    """Every check of this module, in the order train would meet the problems."""
    check_paths(cfg)
    check_stage_order(cfg)
    for index, stage in enumerate(cfg.stages):
        check_stage_data(cfg, stage, index)


def input_paths(cfg: RunConfig) -> list[tuple[str, str, str]]:
    """(key, path, what it is) of every input the recipe names that must exist before step 1."""
    model = cfg.model
    wanted = [("model.llm_path", model.llm_path, "the LLM directory, from_pretrained format")]
    if model.tokenizer_path:
        wanted.append(("model.tokenizer_path", model.tokenizer_path, "the tokenizer directory"))
    for i, m in enumerate(model.modalities):
        wanted.append((f"model.modalities[{i}].encoder.path", m.encoder.path, f"the {m.name} encoder checkpoint"))
    wanted.append(("data.root", cfg.data.root, "the directory media paths are relative to"))
    for index, stage in enumerate(cfg.stages):
        key, file = _train_file(cfg, stage, index)
        wanted.append((key, file, f"the training data of stage {stage.name!r}, unified JSONL"))
        if cfg.train.eval_every is not None and (stage.eval_file or cfg.data.eval_file):
            key = f"stages[{index}].eval_file" if stage.eval_file else "data.eval_file"
            wanted.append((key, stage.eval_file or cfg.data.eval_file, "the held-out data read by train.eval_every"))
    return [(key, value, what) for key, value, what in wanted if value is not None]


def check_paths(cfg: RunConfig) -> None:
    for key, value, what in input_paths(cfg):
        if not Path(value).exists():
            raise PreflightError(
                f"{key}: {value} does not exist ({what}); set {key} (or the environment variable the "
                "recipe reads it from, e.g. MODEL_ROOT / DATA_ROOT) to an existing path"
            )


def _train_file(cfg: RunConfig, stage: StageConfig, index: int) -> tuple[str, str | None]:
    if stage.train_file is not None:
        return f"stages[{index}].train_file", stage.train_file
    return "data.train_file", cfg.data.train_file


def check_stage_data(cfg: RunConfig, stage: StageConfig, index: int) -> None:
    """Parse the stage's train file; refuse samples with a modality its model lacks and, under
    policy fail, samples whose media file is missing."""
    data = stage_data_config(cfg, stage)
    key, file = _train_file(cfg, stage, index)
    if file is None:
        raise PreflightError(f"{key}: not set; name the training data of stage {stage.name!r} (unified JSONL)")
    specs = modality_specs(stage_model_config(cfg, stage))
    accepted = accepted_keys(specs)
    keys = tuple(dict.fromkeys(DEFAULT_MEDIA_KEYS + tuple(s.name for s in specs) + tuple(accepted)))
    records = read_records(file, keys, data.max_line_bytes)  # undecodable lines: the dataset's policy
    samples = [read_accepted(s, accepted) for s, problem in records if problem is None]
    names = sorted(s.name for s in specs)
    foreign = [s for s in samples if set(s.media) - set(names)]
    if foreign and (data.bad_sample_policy == "fail" or len(foreign) > data.max_bad_fraction * len(samples)):
        kinds = Counter(k for s in foreign for k in set(s.media) - set(names))
        raise PreflightError(
            f"{key} {file}: {len(foreign)} of {len(samples)} samples carry media the model lacks "
            f"({dict(kinds)}; first: {', '.join(s.source for s in foreign[:SHOWN])}); "
            f"the model of stage {stage.name!r} has modalities {names}: "
            f"add a model.modalities entry for {sorted(kinds)}, let a modality "
            "accept the key (model.modalities[].accepts), or train on data without it"
            + ("" if data.bad_sample_policy == "fail" else f" (data.max_bad_fraction={data.max_bad_fraction})")
        )
    if data.bad_sample_policy == "fail":
        check_media_files(samples, data.root, key, file)


def check_media_files(samples: list, root: str, key: str, file: str) -> None:
    """Under policy fail, every media file must exist (one stat per file, no decoding)."""
    missing = [(s, path) for s in samples for path in s.media_paths(root).values() if not path.is_file()]
    if missing:
        named = ", ".join(f"{s.id} ({s.source}): {path}" for s, path in missing[:SHOWN])
        raise PreflightError(
            f"{key} {file}: {len(missing)} media file(s) do not exist (first: {named}); with "
            "data.bad_sample_policy=fail the run would stop at the first; restore the files, remove those "
            "samples, or set data.bad_sample_policy=skip (skipped samples are reported, up to data.max_bad_fraction)"
        )
