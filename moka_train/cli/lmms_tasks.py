"""`moka-train lmms-tasks`: write the MUSIC-AVQA / AVE lmms-eval task files with absolute paths.

    moka-train lmms-tasks --output DIR [--music-avqa F.jsonl] [--ave F.jsonl] --media-root DATA

(see ``moka_train.integrations.lmms.tasks``); one written path per output line.
"""

from __future__ import annotations

import argparse
import sys


def add_lmms_tasks_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="directory to pass to lmms-eval --include_path")
    parser.add_argument("--music-avqa", help="MUSIC-AVQA test JSONL (data_prep/convert_music_avqa_test.py)")
    parser.add_argument("--ave", help="AVE test JSONL (data_prep/convert_ave_test.py)")
    parser.add_argument("--media-root", required=True, help="the data.root the JSONL media paths are relative to")


def cmd_lmms_tasks(args: argparse.Namespace) -> int:
    from ..integrations.lmms.tasks import write_tasks

    files = {k: v for k, v in (("music_avqa", args.music_avqa), ("ave", args.ave)) if v}
    if not files:
        args.parser.error("give --music-avqa and/or --ave")
    for path in write_tasks(args.output, files, args.media_root):
        sys.stdout.write(f"{path}\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lmms-tasks", help="write the MUSIC-AVQA / AVE lmms-eval task files (absolute paths)")
    add_lmms_tasks_args(p)
    p.set_defaults(func=cmd_lmms_tasks, parser=p)
