"""`moka-train evaluate score`: score a predictions file against one benchmark's definition; `report`: the table.

    moka-train evaluate score --benchmark ave --predictions P.jsonl [--mode official|strict]
        [--annotations Annotations.txt]
    moka-train evaluate report RESULT.json ... [--output table.md]

The last output line of `score` is one JSON object (``benchmark``, ``metric``, ``value``, ``n``,
``n_unparsed``, ``n_missing``, the breakdown, ``mode`` and the predictions path), so scripts can
read it with ``tail -n 1``. Errors (a missing, empty or malformed file, duplicate ids, an unknown
benchmark) go to stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..eval.metrics import MODES, SCORERS, TAKES_ANNOTATIONS, ScoringError
from ..eval.predictions import PredictionsError
from ..eval.score import score_file
from ..utils.logging import get_logger

log = get_logger(__name__)


def register(actions: argparse._SubParsersAction) -> None:
    """``evaluate score`` and ``evaluate report`` under the evaluate family of the one CLI parser."""
    score = actions.add_parser("score", help="score a predictions JSONL", description=__doc__.splitlines()[0])
    score.add_argument("--benchmark", required=True, choices=list(SCORERS))
    score.add_argument("--predictions", required=True, help="our predictions JSONL or an official MokA file")
    score.add_argument(
        "--mode",
        choices=MODES,
        default="official",
        help="official: the published scripts, quirks included; strict: unparsable = wrong",
    )
    score.add_argument("--annotations", help=f"annotations file (used by: {', '.join(sorted(TAKES_ANNOTATIONS))})")
    score.set_defaults(func=cmd_score)
    report = actions.add_parser("report", help="markdown table of result files, the paper's numbers beside")
    report.add_argument("results", nargs="+", help="result files written by `evaluate run`")
    report.add_argument("--output", help="write the table here too")
    report.set_defaults(func=cmd_report)


def evaluate_main(argv: list[str]) -> int:
    """``moka-train evaluate ARGV`` for ``score ...`` or ``report ...``: the same subparsers, run
    without :func:`moka_train.cli.main`'s mapping of raised errors (the tests call it)."""
    parser = argparse.ArgumentParser(prog="moka-train evaluate")
    register(parser.add_subparsers(dest="action", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def cmd_report(args: argparse.Namespace) -> int:
    from ..eval.report import markdown_table, read_results

    table = markdown_table(read_results(args.results))
    if args.output:
        Path(args.output).write_text(table)
    sys.stdout.write(table)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    try:
        out = score_file(args.benchmark, args.predictions, args.mode, args.annotations)
    except (PredictionsError, ScoringError) as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    log.info(
        "%s %s (%s): %.2f over %d rows, %d unparsed, %d missing",
        out["benchmark"],
        out["metric"],
        args.mode,
        out["value"],
        out["n"],
        out["n_unparsed"],
        out["n_missing"],
    )
    sys.stdout.write(json.dumps(out) + "\n")  # the CLI's one result line, always last
    return 0
