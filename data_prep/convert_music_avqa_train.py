"""MUSIC-AVQA training questions → unified JSONL (audio-visual-text fine-tuning).

    python data_prep/convert_music_avqa_train.py --input MUSIC-AVQA/data/json_update/avqa-train.json \
        --media-root $DATA_ROOT/music_avqa --output $DATA_ROOT/music_avqa/train.jsonl

Format and media layouts: ``music_avqa_format``. Deleted questions (``question_deleted``) are
counted as skipped. The prompt is the official training instruction (the same as the test one,
``protocol.music_avqa_prompt``); the target is ``<answer>X</answer>`` (the official format,
without the official reasoning text), the answer from the dataset's 42-word vocabulary kept
verbatim; ``question_type`` keeps the official type. A question id met twice stops the run.
"""

from __future__ import annotations

import argparse

import music_avqa_format as avqa
from common import Conversion, cli, conversation, lookups_from_args

from moka_train.eval.protocol import music_avqa_prompt


def convert(args: argparse.Namespace) -> Conversion:
    items = avqa.read_items(args.input)
    lookups = lookups_from_args(args, avqa.LAYOUTS)
    conv = Conversion("music_avqa_train", args.media_root, lookups)
    for k, item in enumerate(items):
        conv.read += 1
        if int(item.get("question_deleted", 0)):
            conv.skip("question_deleted")
            continue
        where = f"{args.input}: item {k}"
        vid, answer = item["video_id"], avqa.answer(item)
        prompt = music_avqa_prompt(avqa.question(item, where))
        row = {
            "id": f"avqa_{item['question_id']}",
            "question_type": avqa.question_type(item, where),
            "answer": answer,
            "conversations": conversation(prompt, f"<answer>{answer}</answer>"),
        }
        conv.add(row, {"video": lookups["video"].path(vid), "audio": lookups["audio"].path(vid)}, args.drop_missing)
    return conv


main = cli(convert, __doc__, avqa.LAYOUT_HELP)

if __name__ == "__main__":
    raise SystemExit(main())
