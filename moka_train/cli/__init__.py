"""`moka-train` command line: train | evaluate | infer | serve | validate | show-sample | import-official.

The one front door: every command (and the ``scripts/*.py`` wrappers, which call :func:`main` with
their subcommand, so ``deepspeed scripts/train.py --config X.yaml key=value`` and
``moka-train train --config X.yaml`` run the same code) goes through here. The library returns
values and raises its errors; this package prints and maps the errors to exit codes. One module
per subcommand (or family); heavy modules are imported inside the subcommands to keep ``--help`` fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .. import __version__
from . import (
    config_reference,
    evaluate,
    import_official,
    infer,
    lmms_eval,
    lmms_tasks,
    serve,
    show,
    train,
    validate,
)
from .errors import pop_debug, run_guarded

SUBCOMMANDS = (validate, train, show, infer, evaluate, serve, import_official, lmms_tasks, lmms_eval, config_reference)
# the one subcommand whose arguments another program parses (lmms-eval's own command line, passed on
# untouched); it is still listed in --help
PASS_THROUGH = {"lmms-eval": lmms_eval.cmd_lmms_eval}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moka-train", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"moka-train {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (any position)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None, command: str | None = None) -> int:
    """Entry point; ``command`` lets ``scripts/train.py`` fix the subcommand. Failures print one
    ``error:`` line and exit 2 (user input) or 130 (Ctrl-C): see :mod:`.errors`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if command is not None:
        argv = [command] + argv
    argv, debug = pop_debug(argv)
    if argv[:1] and argv[0] in PASS_THROUGH:  # lmms-eval parses its own arguments
        args = argparse.Namespace(command=argv[0], rest=argv[1:], func=PASS_THROUGH[argv[0]])
    else:
        args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return run_guarded(func, args, debug)
