"""`moka-train evaluate run | score | report`: subcommands of the CLI's one parser.

``moka-train evaluate run --help`` (or ``score``, ``report``) lists a subcommand's arguments; a bad
flag is argparse's usage error (exit 2), as for every other command.
"""

from __future__ import annotations

import argparse

from . import evaluate_run, evaluate_score


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate run | score | report: a benchmark's predictions, their score, the table of results",
        description=__doc__.splitlines()[0],
    )
    # "action", not "command": args.command stays "evaluate" (cli/errors.py words Ctrl-C by it)
    actions = p.add_subparsers(dest="action", required=True, metavar="{run,score,report}")
    evaluate_run.register(actions)
    evaluate_score.register(actions)
