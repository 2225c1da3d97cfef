"""`moka-train evaluate run | score | report`: each subcommand parses its own arguments."""

from __future__ import annotations

import argparse
import sys


def evaluate_help() -> str:
    """``evaluate --help``: the three subcommands, each with its own arguments."""
    from .evaluate_run import build_parser as run_parser
    from .evaluate_score import build_parser as score_report_parser

    subcommands = {"run": run_parser()}
    subcommands.update(
        next(a for a in score_report_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    )
    parts = ["usage: moka-train evaluate {run,score,report} ...\n"]
    for name, sub in subcommands.items():
        sub.prog = f"moka-train evaluate {name}"
        parts.append(f"\n=== evaluate {name} ===\n{sub.format_help()}")
    return "".join(parts)


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.rest[:1] in ([], ["-h"], ["--help"]):
        sys.stdout.write(evaluate_help())
        return 0 if args.rest else 2
    if args.rest[:1] == ["run"]:
        from .evaluate_run import run_main

        return run_main(args.rest[1:])
    from .evaluate_score import evaluate_main

    return evaluate_main(args.rest)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate run | score | report (evaluate --help lists their arguments)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_evaluate)
