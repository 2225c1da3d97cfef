"""AVE training split → unified JSONL (audio-visual event localisation fine-tuning).

    python data_prep/convert_ave_train.py --input AVE_Dataset/trainSet.txt --exclude AVE_Dataset/testSet.txt \
        --media-root AVE_Dataset --output $DATA_ROOT/ave/train.jsonl

One row per annotation line of the split file (see ``ave_format``): a video annotated twice
gives ``ave_<id>`` and ``ave_<id>#2``, and the line of such a video that belongs to the test split
is never taken. ``--exclude`` (repeatable) names split files whose lines must not enter training:
a line found there is counted as ``in_excluded_split``. The older call ``--input Annotations.txt
--split-file trainSet.txt`` still works and selects by line too (others: ``not_in_split_file``).
The question is the official one (``protocol.ave_prompt``); the answer follows the official recipe's tags
``<event>NAME</event><range>s,e</range>`` (the official reasoning sentence is not reproduced).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ave_format
from common import Conversion, cli, conversation, lookups_from_args

from moka_train.eval.protocol import ave_prompt


def convert(args: argparse.Namespace) -> Conversion:
    excluded = {ave_format.line_key(e) for path in args.exclude or [] for e in ave_format.read_lines(path)}
    wanted = {ave_format.line_key(e) for e in ave_format.read_lines(args.split_file)} if args.split_file else None
    lookups = lookups_from_args(args, ave_format.LAYOUTS)
    conv = Conversion("ave_train", args.media_root, lookups, duplicates="number")
    for entry in ave_format.read_lines(args.input):
        conv.read += 1
        if wanted is not None and ave_format.line_key(entry) not in wanted:
            conv.skip("not_in_split_file")
            continue
        if ave_format.line_key(entry) in excluded:
            conv.skip("in_excluded_split")
            continue
        vid = entry.video_id
        answer = f"<event>{entry.category}</event><range>{entry.start},{entry.end}</range>"
        row = {
            "id": f"ave_{vid}",
            "event": entry.category,
            "range": [entry.start, entry.end],
            "conversations": conversation(ave_prompt(), answer),
        }
        conv.add(row, {"video": lookups["video"].path(vid), "audio": lookups["audio"].path(vid)}, args.drop_missing)
    return conv


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--split-file",
        type=Path,
        default=None,
        help="with --input Annotations.txt: keep the lines that are also lines of this split file",
    )
    parser.add_argument("--exclude", type=Path, action="append", help="a split file (testSet.txt) kept out of training")


main = cli(convert, __doc__, ave_format.LAYOUT_HELP, add_flags)


if __name__ == "__main__":
    raise SystemExit(main())
