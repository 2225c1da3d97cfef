"""POPE question files (coco_pope_{random,popular,adversarial}.json of RUCAIBox/POPE
``output/coco/``, one JSON object a line: ``question_id``, ``image``, ``text``, ``label``) →
unified evaluation JSONL, the split taken from the file name.

    python data_prep/convert_pope.py --input POPE/output/coco --output eval/pope.jsonl \
        --media-root DATA [--image-dir val2014]

``--input`` is one file or a folder holding the three. The prompt is the official one
(GeWu-Lab/MokA VisualText/eval_benchmarks/pope/pope.py, ``moka_train.eval.protocol.pope_prompt``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import Conversion, cli, conversation, lookups_from_args, read_json_lines, require_keys

from moka_train.eval.protocol import pope_prompt

LAYOUTS = {"image": ("val2014", "coco/val2014", "")}
FIELDS = ("question_id", "image", "text", "label")


def split_name(path: Path) -> str:
    return path.stem.rsplit("_", 1)[-1]  # coco_pope_adversarial -> adversarial


def input_files(path: Path) -> list[Path]:
    files = sorted(path.glob("*pope_*.json")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"no POPE question files (*pope_*.json) in {path}")
    return files


def convert(args: argparse.Namespace) -> Conversion:
    lookups = lookups_from_args(args, LAYOUTS)
    conv = Conversion("pope", args.media_root, lookups)
    for path in input_files(args.input):
        split = split_name(path)
        for k, item in enumerate(read_json_lines(path), start=1):
            conv.read += 1
            require_keys(item, FIELDS, f"{path}:{k}")
            row = {
                "id": f"{split}-{item['question_id']}",
                "conversations": conversation(pope_prompt(item["text"])),
                "question": item["text"],
                "answer": item["label"],
                "split": split,
            }
            conv.add(row, {"image": lookups["image"].path(item["image"])}, args.drop_missing)
    return conv


main = cli(convert, __doc__, {"image": "val2014, coco/val2014, the root"})

if __name__ == "__main__":
    raise SystemExit(main())
