"""`moka-train config-reference`: the config schema as markdown (docs/config_reference.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_config_reference(args: argparse.Namespace) -> int:
    from ..config.reference import config_reference

    text = config_reference()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config-reference", help="write the config reference (markdown) generated from the schema")
    p.add_argument("--output", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_config_reference)
