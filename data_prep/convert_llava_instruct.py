"""LLaVA-Instruct-150K → unified JSONL (visual-text fine-tuning).

    python data_prep/convert_llava_instruct.py --input llava_instruct_150k.json --media-root $DATA_ROOT/visual \
        --image-dir coco/train2017 --output $DATA_ROOT/visual/llava_instruct.jsonl

Input: the official JSON list (liuhaotian/LLaVA-Instruct-150K) ``{"id", "image", "conversations"}``
(already LLaVA-shaped; several records may share an image id: the k-th becomes ``<id>#k``). The
image path gets ``--image-dir`` prepended; the ``<image>`` placeholder is removed from wherever the
annotators put it. Every user turn is asked as the official visual-text code asks it (VT
``train/train.py`` 88-109): ``Please answer this question: {q}``, the first one after the lead-in
``This is an image:\\n<image>\\n``. Multi-turn conversations stay whole: with ``data.multi_turn: split``
(the paper's single turns) the renderer announces the image before each later turn the same way, so
every split turn reads ``This is an image:\\n<image>\\nPlease answer this question: {q}``.
"""

from __future__ import annotations

import argparse

from common import Conversion, cli, lookups_from_args, read_json, require_keys

from moka_train.data.official_prompt import QUESTION_LEAD
from moka_train.eval.protocol import IMAGE_LEAD_IN


def normalise(conversations: list[dict]) -> list[dict]:
    turns = [{"from": t["from"], "value": t["value"].replace("<image>", "").strip()} for t in conversations]
    for turn in turns:
        if turn["from"] == "human":
            turn["value"] = QUESTION_LEAD + turn["value"]
    if turns and turns[0]["from"] == "human":
        turns[0]["value"] = IMAGE_LEAD_IN + turns[0]["value"]
    return turns


def convert(args: argparse.Namespace) -> Conversion:
    records = read_json(args.input, list, 'the LLaVA list of {"id", "image", "conversations"}')
    lookups = lookups_from_args(args, {"image": ("", "coco/train2017", "train2017")})
    conv = Conversion("llava_instruct", args.media_root, lookups, duplicates="number")
    for k, rec in enumerate(records):
        conv.read += 1
        require_keys(rec, ("id", "image"), f"{args.input}: record {k}")
        if not rec.get("conversations"):
            conv.skip("empty_conversation")
            continue
        row = {"id": f"llava_{rec['id']}", "conversations": normalise(rec["conversations"])}
        conv.add(row, {"image": lookups["image"].path(rec["image"])}, args.drop_missing)
    return conv


main = cli(convert, __doc__, {"image": "the root, coco/train2017, train2017"})

if __name__ == "__main__":
    raise SystemExit(main())
