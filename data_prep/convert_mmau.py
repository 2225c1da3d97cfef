"""MMAU test-mini (mmau-test-mini.json of Sakshi113/MMAU), speech subset → unified evaluation JSONL.

    python data_prep/convert_mmau.py --input mmau-test-mini.json --output eval/mmau_speech.jsonl --media-root DATA \
        [--speech-dir mmau]

Items carry ``id``, ``audio_id`` (``./test-mini-audios/<id>.wav``, relative to the MMAU folder:
the media root, or name it with ``--speech-dir``), ``question``, ``choices``, ``answer`` (the option
text), ``task`` (speech / sound / music), ``category``, ``sub-category``, ``difficulty``. Rows of
other tasks are counted as skipped (``task_sound``, ``task_music``). MMAU publishes no prompt; the
form used is ``moka_train.eval.protocol.mmau_prompt``.
"""

from __future__ import annotations

import argparse

from common import Conversion, cli, conversation, lookups_from_args, read_json, records

from moka_train.eval.protocol import mmau_prompt

FIELDS = ("id", "audio_id", "question", "choices", "answer", "task")
LAYOUTS = {"speech": ("", "mmau", "MMAU")}


def convert(args: argparse.Namespace) -> Conversion:
    items = read_json(args.input, list, "the MMAU list of questions")
    lookups = lookups_from_args(args, LAYOUTS)
    conv = Conversion("mmau_speech", args.media_root, lookups)
    for item in records(conv, items, FIELDS, args.input):
        if item["task"] != args.task:
            conv.skip(f"task_{item['task']}")
            continue
        row = {
            "id": item["id"],
            "conversations": conversation(mmau_prompt(item["question"], item["choices"])),
            "question": item["question"],
            "choices": item["choices"],
            "answer": item["answer"],
            "category": item.get("category"),
            "sub-category": item.get("sub-category"),
            "difficulty": item.get("difficulty"),
        }
        conv.add(row, {"speech": lookups["speech"].path(item["audio_id"].removeprefix("./"))}, args.drop_missing)
    return conv


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="speech", choices=["speech", "sound", "music"])


main = cli(convert, __doc__, {"speech": "the root, mmau, MMAU"}, add_flags)


if __name__ == "__main__":
    raise SystemExit(main())
