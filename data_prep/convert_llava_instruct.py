"""LLaVA-Instruct-150K → unified JSONL (visual-text fine-tuning).

    python data_prep/convert_llava_instruct.py --input llava_instruct_150k.json --media-root $DATA_ROOT/visual \
        --image-dir coco/train2017 --out $DATA_ROOT/visual/llava_instruct.jsonl

Input: the official JSON list ``{"id", "image", "conversations"}`` (already LLaVA-shaped). The
image path gets ``--image-dir`` prepended; the ``<image>`` placeholder is removed from wherever the
annotators put it and the first user turn starts with the official lead-in
``This is an image:\\n<image>\\n``. Multi-turn conversations stay whole: set
``data.multi_turn: split`` to train on single turns as the paper did.
"""

from __future__ import annotations

import json
from pathlib import Path

from train_common import IMAGE_LEAD_IN, Conversion, base_parser, report


def normalise(conversations: list[dict]) -> list[dict]:
    turns = [{"from": t["from"], "value": t["value"].replace("<image>", "").strip()} for t in conversations]
    if turns and turns[0]["from"] == "human":
        turns[0]["value"] = IMAGE_LEAD_IN + turns[0]["value"]
    return turns


def convert(input_file: Path, media_root: Path, image_dir: str = "", drop_missing: bool = False) -> Conversion:
    conv = Conversion("llava_instruct", media_root)
    for rec in json.loads(Path(input_file).read_text()):
        if not rec.get("conversations"):
            conv.skip("empty_conversation")
            continue
        image = f"{image_dir.rstrip('/')}/{rec['image']}" if image_dir else rec["image"]
        row = {"id": f"llava_{rec['id']}", "conversations": normalise(rec["conversations"])}
        conv.add(row, {"image": image}, drop_missing)
    return conv


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--image-dir", default="", help="folder of the images, relative to the media root")
    args = parser.parse_args(argv)
    return report(convert(args.input, args.media_root, args.image_dir, args.drop_missing).write(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
