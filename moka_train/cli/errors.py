"""One error style for every command: ``error: <what>, <where>, <what to do>`` and an exit code.

Exit codes (README "Exit codes"):

* 0 done;
* 1 an unexpected error: a bug, shown with its traceback;
* 2 user input: a config key, a path, data, a checkpoint or an export the library refused by
  name (its message says what, where and what to do); the traceback only with ``--debug``;
* 130 interrupted (Ctrl-C); for `train` the line to continue (``resume=auto``) is printed.

The library raises typed errors and never prints; this module is where they become a message.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Callable

from ..config import ConfigError

EXIT_BUG, EXIT_USER, EXIT_INTERRUPTED = 1, 2, 130

# the library's named refusals (module, class): exit code 2 with the message, no traceback
NAMED_ERRORS = (
    ("moka_train.train.checkpoint_files", "CheckpointFileError"),
    ("moka_train.train.preflight", "PreflightError"),
    ("moka_train.utils.weights_format", "ExportError"),
    ("moka_train.model.official_import.keymap", "OfficialImportError"),
    ("moka_train.data.dataset", "BadSampleError"),
    ("moka_train.data.report", "DataQualityError"),
    ("moka_train.data.records", "RecordError"),
    ("moka_train.utils.jsonl", "JsonlError"),
    ("moka_train.data.media", "MediaError"),
)
# a DataLoader worker's error comes back re-raised with the worker's traceback in its message
_WORKER_WRAPPED = re.compile(r"Caught \w+ in DataLoader worker process \d+\.\nOriginal Traceback")
_QUALIFIED_CLASS = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception): ")


def run_guarded(func: Callable[[argparse.Namespace], int], args: argparse.Namespace, debug: bool) -> int:
    """``func(args)`` with every expected failure turned into one ``error:`` line and its exit code."""
    try:
        return func(args)
    except KeyboardInterrupt:
        if debug:
            raise
        sys.stderr.write("\n" + interrupted_message(args))  # after a progress bar's unfinished line
        return EXIT_INTERRUPTED
    except Exception as err:
        if debug or not is_user_error(err):
            raise
        sys.stderr.write(f"error: {message_of(err)}\n")  # one line; --debug shows the traceback
        return EXIT_USER


def is_user_error(err: Exception) -> bool:
    """A refusal of bad input (config, path, data, checkpoint, export), not a bug."""
    if isinstance(err, (ConfigError, FileNotFoundError)):  # the library names the key with a missing path
        return True
    for module_name, class_name in NAMED_ERRORS:
        module = sys.modules.get(module_name)  # a class can only have been raised where its module is loaded
        if module is not None and isinstance(err, getattr(module, class_name)):
            return True
    return False


def message_of(err: Exception) -> str:
    """The error's own message; for an error re-raised from a DataLoader worker, the original
    message without the worker's traceback."""
    text = str(err)
    if _WORKER_WRAPPED.search(text):
        last = [line for line in text.splitlines() if line.strip()][-1]
        text = _QUALIFIED_CLASS.sub("", last)
    if text.startswith("unreadable_media:") and "bad_sample_policy" not in text:  # met mid-run under policy fail
        text += (
            "; replace or remove that file's sample, or set data.bad_sample_policy=skip (skipped samples are reported)"
        )
    return text


def interrupted_message(args: argparse.Namespace) -> str:
    """What was interrupted and how to continue (train: the same command with resume=auto)."""
    lines = ["error: interrupted (Ctrl-C)"]
    if getattr(args, "command", None) == "train" and getattr(args, "config", None):
        overrides = [o for o in getattr(args, "overrides", []) if not o.startswith("resume=")]
        again = ["moka-train", "train", "--config", args.config, *overrides, "resume=auto"]
        lines[0] += ", training stopped; the checkpoints written so far are kept"
        lines.append(f"continue from the newest checkpoint with: {shlex.join(again)}")
    elif getattr(args, "command", None) == "evaluate":
        lines[0] += "; rerun the same command: answered samples are kept and skipped"
    lines.append(f"(exit {EXIT_INTERRUPTED})")
    return "\n".join(lines) + "\n"


def pop_debug(argv: list[str]) -> tuple[list[str], bool]:
    """``--debug`` anywhere before a pass-through command's own arguments (lmms-eval keeps its own)."""
    if "--debug" not in argv or argv[:1] == ["lmms-eval"]:
        return argv, False
    return [a for a in argv if a != "--debug"], True
