"""`moka-train show-sample`: one rendered sample, coloured by label and modality, on the terminal."""

from __future__ import annotations

import argparse

from ..config import load_config
from .common import add_config_args


def cmd_show_sample(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..data.show import sample_view

    Console().print(sample_view(load_config(args.config, args.overrides), args.index, split=args.split))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show-sample", help="print one rendered sample coloured by label and modality")
    add_config_args(p)
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--split", choices=["train", "eval"], default="train")
    p.set_defaults(func=cmd_show_sample)
