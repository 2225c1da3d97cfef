"""`moka-train validate`: the resolved config as YAML, refused as `train` would refuse it, then
what the recipe amounts to (:mod:`.validate_report`) as YAML comments."""

from __future__ import annotations

import argparse
import sys

from ..config import ConfigError, dump_config, load_config
from .common import add_config_args


def cmd_validate(args: argparse.Namespace) -> int:
    """The resolved config as YAML, then (as YAML comments, so it still loads) the token budget
    per sample, the trainable parameters per role and the other sections of the report."""
    cfg = load_config(args.config, args.overrides)
    from ..adapters import available_methods

    if cfg.adapter.method not in available_methods():  # refused here, not after hours of setup
        raise ConfigError(
            f"adapter.method: unknown {cfg.adapter.method!r}; choose one of {', '.join(available_methods())}"
        )
    from ..train.preflight import preflight

    preflight(cfg)  # every check train runs before building the model: the same refusals, exit 2
    sys.stdout.write(dump_config(cfg))
    from .validate_report import report_sections

    for section in report_sections(cfg, args):
        sys.stdout.write(section)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="print the fully resolved config as YAML")
    add_config_args(p)
    p.add_argument("--gpus", type=int, default=None, help="also show the global batch and grad_accum on N GPUs")
    p.add_argument("--gpu-memory-gb", type=float, default=None, help="also plan the memory per GPU of this size")
    p.add_argument("--seq", type=int, default=None, help="sequence length of the memory plan (data.max_length)")
    p.set_defaults(func=cmd_validate)
