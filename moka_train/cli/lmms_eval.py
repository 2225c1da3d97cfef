"""`moka-train lmms-eval ARGS`: lmms-eval's own command line, with a failed evaluation as a failed exit.

    moka-train lmms-eval --model moka --model_args config=R.yaml,checkpoint=EXPORT --tasks T ...

Every argument goes to lmms-eval unchanged. Why not the bare ``lmms-eval`` command: lmms-eval 0.7.3
catches any exception of an evaluation (a checkpoint that does not load, a task that does not
exist), prints it and still exits 0, so a script or CI job cannot tell a failed run from a good
one. This wrapper records those failures and exits 1; a clean run exits 0 as before.
"""

from __future__ import annotations

import argparse
import sys


def run_lmms_eval(argv: list[str]) -> int:
    """lmms-eval's ``cli_evaluate`` on ``argv``; 1 when any of its evaluations raised."""
    import lmms_eval.__main__ as lmms_main

    failures: list[BaseException] = []
    evaluate_one = lmms_main.cli_evaluate_single

    def recording(args):
        try:
            return evaluate_one(args)
        except Exception as err:
            failures.append(err)
            raise  # lmms-eval prints it (its own message and, with --verbosity DEBUG, the traceback)

    lmms_main.cli_evaluate_single = recording
    saved_argv = sys.argv
    sys.argv = ["lmms-eval", *argv]
    try:
        lmms_main.cli_evaluate()
    finally:
        sys.argv, lmms_main.cli_evaluate_single = saved_argv, evaluate_one
    if failures:
        sys.stderr.write(f"error: lmms-eval failed: {failures[0]}\n")
        return 1
    return 0


def cmd_lmms_eval(args: argparse.Namespace) -> int:
    return run_lmms_eval(list(args.rest))


def register(sub: argparse._SubParsersAction) -> None:
    # listed in `moka-train --help`; main() hands everything after the word to lmms-eval untouched
    p = sub.add_parser("lmms-eval", help="run lmms-eval's CLI (every argument passed on); exit 1 when it fails")
    p.set_defaults(func=cmd_lmms_eval, rest=[])
