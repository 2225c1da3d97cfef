"""AVE test split (testSet.txt) → unified evaluation JSONL with the official question and the
truth in the official form ``event:NAME start_time:s end_time:e`` (what ``moka_train.eval.metrics.ave``
reads; GeWu-Lab/MokA AudioVisualText/dataset/unified_dataset.py builds it so).

    python data_prep/convert_ave_test.py --input AVE_Dataset/testSet.txt --output eval/ave_test.jsonl \
        --media-root AVE_Dataset [--video-dir AVE --audio-dir audio_data]

One row per annotation line (see ``ave_format``): a video annotated twice in the test split gives
``<id>`` and ``<id>#2``. The prompt is the official one (``protocol.ave_prompt``).
"""

from __future__ import annotations

import argparse

import ave_format
from common import Conversion, cli, conversation, lookups_from_args

from moka_train.eval.protocol import AVE_QUESTION, ave_prompt


def convert(args: argparse.Namespace) -> Conversion:
    lookups = lookups_from_args(args, ave_format.LAYOUTS)
    conv = Conversion("ave_test", args.media_root, lookups, duplicates="number")
    for entry in ave_format.read_lines(args.input):
        conv.read += 1
        vid = entry.video_id
        row = {
            "id": vid,
            "conversations": conversation(ave_prompt()),
            "question": AVE_QUESTION,
            "answer": f"event:{entry.category} start_time:{entry.start} end_time:{entry.end}",
            "event": entry.category,
            "start_time": entry.start,
            "end_time": entry.end,
        }
        conv.add(row, {"video": lookups["video"].path(vid), "audio": lookups["audio"].path(vid)}, args.drop_missing)
    return conv


main = cli(convert, __doc__, ave_format.LAYOUT_HELP)

if __name__ == "__main__":
    raise SystemExit(main())
