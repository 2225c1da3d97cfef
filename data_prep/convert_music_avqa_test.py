"""MUSIC-AVQA test set → unified evaluation JSONL.

    python data_prep/convert_music_avqa_test.py --input MUSIC-AVQA/data/json_update/avqa-test.json \
        --output eval/music_avqa_test.jsonl --media-root DATA [--video-dir video --audio-dir audio]

The published test set is ``data/json_update/avqa-test.json`` (9129 questions: the set the
published MokA 77.76 was measured on). The older ``data/json/avqa-test.json`` holds 9185 rows in
which 55 question ids occur twice with different answers: by default such an input fails, naming
the ids; ``--on-duplicate keep-first`` keeps the first row of an id and counts the others as
``duplicate_id`` in the report. Format and media layouts: ``music_avqa_format``. The prompt is the
official one (GeWu-Lab/MokA AudioVisualText/dataset/unified_dataset.py; ``protocol.music_avqa_prompt``).
"""

from __future__ import annotations

import argparse

import music_avqa_format as avqa
from common import Conversion, ConversionError, cli, conversation, lookups_from_args

from moka_train.eval.protocol import music_avqa_prompt


def duplicate_ids(items: list[dict]) -> list[str]:
    seen, dups = set(), []
    for item in items:
        qid = str(item["question_id"])
        if qid in seen and qid not in dups:
            dups.append(qid)
        seen.add(qid)
    return dups


def convert(args: argparse.Namespace) -> Conversion:
    items = avqa.read_items(args.input)
    dups = duplicate_ids(items)
    if dups and args.on_duplicate == "fail":
        raise ConversionError(
            f"{args.input}: {len(dups)} question ids occur more than once (e.g. {dups[:5]}); "
            "the published test set is data/json_update/avqa-test.json, or pass "
            "--on-duplicate keep-first"
        )
    lookups = lookups_from_args(args, avqa.LAYOUTS)
    conv = Conversion("music_avqa_test", args.media_root, lookups, duplicates="keep-first")
    conv.notes["duplicate_question_ids"] = len(dups)
    for k, item in enumerate(items):
        conv.read += 1
        question = avqa.question(item, f"{args.input}: item {k}")
        vid = item["video_id"]
        row = {
            "id": str(item["question_id"]),
            "conversations": conversation(music_avqa_prompt(question)),
            "question": question,
            "answer": avqa.answer(item),
            "type": item["type"],
        }
        conv.add(row, {"video": lookups["video"].path(vid), "audio": lookups["audio"].path(vid)}, args.drop_missing)
    return conv


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--on-duplicate",
        choices=["fail", "keep-first"],
        default="fail",
        help="a question id met twice: stop (default) or keep its first row",
    )


main = cli(convert, __doc__, avqa.LAYOUT_HELP, add_flags)


if __name__ == "__main__":
    raise SystemExit(main())
