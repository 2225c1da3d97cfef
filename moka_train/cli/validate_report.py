"""What `moka-train validate` (and `train --dry-run`) prints after the resolved config: the token
budget, media sampling, stage plans, schedule and batch, packing efficiency and, asked for, the
memory per GPU; every section as YAML comments, so the printout still loads as a config.

Printout only: nothing here is used by training (``train/`` holds what a run uses).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import yaml

from ..config import ConfigError, RunConfig

TEMPERATURE_MEANING = {
    "official": "sqrt(r) on the scaled rank vectors, as the official audio-visual (AVT) code ran",
    "paper": "sqrt(r) on the unscaled rank vectors, the paper's formula and the official visual-text (VT) code",
    "num_query": "sqrt(query tokens), the first release",
}


def report_sections(cfg: RunConfig, args: argparse.Namespace) -> Iterator[str]:
    """Every section in printing order (one at a time: what was computed is shown before a later
    section refuses); ``--gpus`` adds a world size to the schedule, ``--gpu-memory-gb`` the memory plan."""
    from ..model.summary import describe

    gpus = getattr(args, "gpus", None)  # `train --dry-run` has no --gpus / --gpu-memory-gb
    yield "\n" + _commented("budget", describe(cfg))
    yield _sampling(cfg)
    yield _commented("stage plans (media and precision)", {"stage_plans": stage_plans(cfg)}, width=1000)
    yield _optimisation(cfg, gpus)
    packing = {"packing": packing_summary(cfg)}
    yield _commented("packing efficiency (non-pad share of the fine-tuning micro-batches)", packing)
    if getattr(args, "gpu_memory_gb", None) is not None:
        yield _memory(cfg, 1 if gpus is None else gpus, args.gpu_memory_gb, args.seq)


def _commented(title: str, value, width: int | None = None) -> str:
    """``value`` as YAML, every line a comment, under a ``# --- title ---`` line."""
    text = yaml.safe_dump(value, sort_keys=False, **({"width": width} if width else {}))
    return f"# --- {title} ---\n" + "".join(f"# {line}\n" for line in text.splitlines())


def _sampling(cfg: RunConfig) -> str:
    """Each modality's media sampling plan and what adapter.temperature means."""
    return (
        "# --- media sampling and adapter temperature ---\n"
        + "".join(f"# {m.name}: {m.sampling_plan().describe()}\n" for m in cfg.model.modalities)
        + f"# adapter.temperature: {cfg.adapter.temperature} "
        f"({TEMPERATURE_MEANING[cfg.adapter.temperature]})\n"
    )


def _optimisation(cfg: RunConfig, gpus: int | None) -> str:
    """Each stage's LR schedule, global batch and grad_accum on 1 and 8 GPUs (and --gpus)."""
    from .validate_schedule import optimisation_lines

    worlds = tuple(sorted({1, 8} | ({gpus} if gpus else set())))
    return "# --- schedule and batch per stage ---\n" + "".join(f"# {x}\n" for x in optimisation_lines(cfg, worlds))


def _memory(cfg: RunConfig, gpus: int, gpu_memory_gb: float, seq: int | None) -> str:
    """Per-GPU memory of the fine-tuning stage and the largest micro-batch that fits."""
    from ..train.memory_plan import recipe_plan

    try:
        plan = recipe_plan(cfg, gpus, gpu_memory_gb, seq)
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(f"memory plan: {err}") from None
    return _commented("memory per GPU (train/memory_plan.py)", {"memory_per_gpu": plan}, width=1000)


def stage_plans(cfg: RunConfig) -> dict:
    """Per stage: its precision and, per modality, the tokens the placeholder expands to and the
    media plan."""
    from ..train.stages import stage_model_config

    plans = {}
    for stage in cfg.stages:
        model_cfg = stage_model_config(cfg, stage)
        plan = {"kind": stage.kind, "precision": stage.precision or cfg.precision, "model.dtype": model_cfg.dtype}
        for m in model_cfg.modalities:
            accepts = f"; also reads {list(m.accepts)} records as 1 frame" if m.accepts else ""
            plan[m.name] = f"{m.media_tokens()} tokens; {m.sampling_plan().describe()}{accepts}"
        plans[stage.name] = plan
    return plans


def packing_summary(cfg: RunConfig) -> dict | str:
    """Share of non-pad tokens in the fine-tuning stage's micro-batches, padded vs. packed
    (epoch 0's order on one rank; media token counts from the projector config); a sentence
    saying why where the data or the tokenizer cannot be read."""
    from ..data.dataset import build_dataset
    from ..data.packing import packing_efficiency
    from ..data.sampler import GroupedDistributedSampler
    from ..data.specs import modality_specs
    from ..data.tokenizer import load_tokenizer
    from ..train.data import stage_collator, stage_data_config
    from ..train.stages import stage_model_config

    stage = cfg.stages[-1]
    data_cfg = stage_data_config(cfg, stage)
    if not data_cfg.train_file or not Path(data_cfg.train_file).is_file():
        return f"unknown: no train file at {data_cfg.train_file!r}"
    try:
        tokenizer = load_tokenizer(cfg.model, data_cfg.prompt_style)
    except (FileNotFoundError, OSError, ValueError) as err:  # ValueError: a directory without a tokenizer
        return f"unknown: {err}"
    dataset = build_dataset(data_cfg, tokenizer, modality_specs(stage_model_config(cfg, stage)), split="train")
    micro = cfg.train.micro_batch_size
    sampler = GroupedDistributedSampler(
        dataset.lengths,
        dataset.signatures,
        micro,
        seed=data_cfg.seed,
        group_by_modality=data_cfg.group_by_modality,
        packing=data_cfg.packing,
    )
    width = stage_collator(cfg, data_cfg, tokenizer).attention_width
    return {
        "stage": stage.name,
        "data.packing": data_cfg.packing,
        "max_length": data_cfg.max_length,
        "micro_batch": micro,
        "packing_cost": data_cfg.packing_cost,
        **packing_efficiency(dataset.lengths, sampler.rank_order(0), micro, data_cfg.max_length, width),
    }
