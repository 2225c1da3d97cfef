"""`moka-train validate` and `moka-train train` (whose ``--dry-run`` is validate)."""

from __future__ import annotations

import argparse
import sys

import yaml

from ..config import ConfigError, dump_config, load_config
from .common import add_config_args

TEMPERATURE_MEANING = {
    "official": "sqrt(r) on the scaled rank vectors, as the official audio-visual (AVT) code ran",
    "paper": "sqrt(r) on the unscaled rank vectors, the paper's formula and the official visual-text (VT) code",
    "num_query": "sqrt(query tokens), the first release",
}


def cmd_validate(args: argparse.Namespace) -> int:
    """The resolved config as YAML, then (as YAML comments, so it still loads) the token budget
    per sample and the trainable parameters per role."""
    cfg = load_config(args.config, args.overrides)
    from ..adapters import available_methods

    if cfg.adapter.method not in available_methods():  # refused here, not after hours of setup
        raise ConfigError(
            f"adapter.method: unknown {cfg.adapter.method!r}; choose one of {', '.join(available_methods())}"
        )
    from ..train.preflight import preflight

    preflight(cfg)  # every check train runs before building the model: the same refusals, exit 2
    sys.stdout.write(dump_config(cfg))
    from ..model.summary import describe

    summary = yaml.safe_dump(describe(cfg), sort_keys=False)
    sys.stdout.write("\n# --- budget ---\n" + "".join(f"# {line}\n" for line in summary.splitlines()))
    sys.stdout.write(
        "# --- media sampling and adapter temperature ---\n"
        + "".join(f"# {m.name}: {m.sampling_plan().describe()}\n" for m in cfg.model.modalities)
        + f"# adapter.temperature: {cfg.adapter.temperature} "
        f"({TEMPERATURE_MEANING[cfg.adapter.temperature]})\n"
    )
    sys.stdout.write(_stage_plans(cfg))
    sys.stdout.write(_optimisation(cfg, getattr(args, "gpus", None)))
    from ..train.data import packing_summary

    packing = yaml.safe_dump({"packing": packing_summary(cfg)}, sort_keys=False)
    sys.stdout.write(
        "# --- packing efficiency (non-pad share of the fine-tuning micro-batches) ---\n"
        + "".join(f"# {line}\n" for line in packing.splitlines())
    )
    if getattr(args, "gpu_memory_gb", None) is not None:
        sys.stdout.write(_memory(cfg, args))
    return 0


def _memory(cfg, args) -> str:
    """Per-GPU memory of the fine-tuning stage and the largest micro-batch that fits, as comments."""
    from ..train.memory_plan import recipe_plan

    try:
        report = recipe_plan(cfg, 1 if args.gpus is None else args.gpus, args.gpu_memory_gb, args.seq)
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(f"memory plan: {err}") from None
    text = yaml.safe_dump({"memory_per_gpu": report}, sort_keys=False, width=1000)
    return "# --- memory per GPU (train/memory_plan.py) ---\n" + "".join(f"# {x}\n" for x in text.splitlines())


def _stage_plans(cfg) -> str:
    """Each stage's precision and media plan (frames / windows, tokens per modality), as comments."""
    from ..train.stages import describe_stage_plans

    text = yaml.safe_dump({"stage_plans": describe_stage_plans(cfg)}, sort_keys=False, width=1000)
    return "# --- stage plans (media and precision) ---\n" + "".join(f"# {line}\n" for line in text.splitlines())


def _optimisation(cfg, gpus: int | None) -> str:
    """Each stage's LR schedule, global batch and grad_accum on 1 and 8 GPUs (and --gpus), as comments."""
    from ..train.schedule_summary import optimisation_lines

    worlds = tuple(sorted({1, 8} | ({gpus} if gpus else set())))
    return "# --- schedule and batch per stage ---\n" + "".join(f"# {x}\n" for x in optimisation_lines(cfg, worlds))


def cmd_train(args: argparse.Namespace) -> int:
    if args.dry_run:
        return cmd_validate(args)
    from ..train.run import run

    run(load_config(args.config, args.overrides))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="print the fully resolved config as YAML")
    add_config_args(p)
    p.add_argument("--gpus", type=int, default=None, help="also show the global batch and grad_accum on N GPUs")
    p.add_argument("--gpu-memory-gb", type=float, default=None, help="also plan the memory per GPU of this size")
    p.add_argument("--seq", type=int, default=None, help="sequence length of the memory plan (data.max_length)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("train", help="run the stages of a recipe")
    add_config_args(p)
    p.add_argument("--dry-run", action="store_true", help="validate and print the config, then exit")
    p.set_defaults(func=cmd_train)
