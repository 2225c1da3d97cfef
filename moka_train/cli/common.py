"""Arguments shared by the subcommands that read a recipe."""

from __future__ import annotations

import argparse


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML recipe")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_steps=10")
    # injected by the deepspeed launcher; the rank itself is read from the environment
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
