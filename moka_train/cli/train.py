"""`moka-train train`: run the stages of a recipe (``--dry-run``: what `validate` prints, then exit).

``scripts/train.py`` (also under deepspeed/torchrun) is this command: the launcher's
``--local_rank`` is accepted and ignored, the rank is read from the environment.
"""

from __future__ import annotations

import argparse

from ..config import load_config
from .common import add_config_args


def cmd_train(args: argparse.Namespace) -> int:
    if args.dry_run:
        from .validate import cmd_validate

        return cmd_validate(args)
    from ..train.run import run

    run(load_config(args.config, args.overrides))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="run the stages of a recipe")
    add_config_args(p)
    p.add_argument("--dry-run", action="store_true", help="validate and print the config, then exit")
    p.set_defaults(func=cmd_train)
