"""POPE question files (coco_pope_{random,popular,adversarial}.json, one JSON object a line:
``question_id``, ``image``, ``text``, ``label``) → unified evaluation JSONL, the split taken from
the file name.

    python data_prep/convert_pope.py --input POPE/output/coco --output eval/pope.jsonl \
        --media-root DATA [--image-dir val2014]

``--input`` is one file or a folder holding the three.
"""

from __future__ import annotations

import json
from pathlib import Path

from common import IMAGE_LEAD_IN, base_parser, finish, human_turn


def split_name(path: Path) -> str:
    return path.stem.rsplit("_", 1)[-1]  # coco_pope_adversarial -> adversarial


def read_json_lines(path: Path) -> list[dict]:
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
    return items


def convert(items: list[dict], split: str, image_dir: str = "val2014") -> list[dict]:
    return [{"id": f"{split}-{item['question_id']}", "image": f"{image_dir}/{item['image']}",
             "conversations": human_turn(IMAGE_LEAD_IN + f"Please answer this question: {item['text']}"),
             "question": item["text"], "answer": item["label"], "split": split} for item in items]


def input_files(path: Path) -> list[Path]:
    files = sorted(path.glob("*pope_*.json")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"no POPE question files (*pope_*.json) in {path}")
    return files


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--image-dir", default="val2014", help="COCO images folder under the media root")
    args = parser.parse_args(argv)
    rows = [row for f in input_files(args.input) for row in convert(read_json_lines(f), split_name(f), args.image_dir)]
    return finish(rows, args, "pope")


if __name__ == "__main__":
    main()
