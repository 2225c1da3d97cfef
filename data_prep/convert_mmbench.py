"""MMBench dev, legacy English TSV (mmbench_dev_20230712.tsv) → unified evaluation JSONL.

    python data_prep/convert_mmbench.py --input mmbench_dev_20230712.tsv --output eval/mmbench.jsonl \
        --media-root DATA [--image-dir mmbench_images]

The TSV's columns: index, question, hint, A, B, C, D, answer, category, image (base64),
source, l2-category, ...; empty option columns are absent options. Images are decoded into
``<media-root>/<image-dir>/<index>.<jpg|png>`` (existing files are left alone). The prompt follows
the official script: hint, question, "(A) ..." options, then the format instruction.
"""

from __future__ import annotations

import base64
import csv
import sys
from pathlib import Path

from common import CHOICE_INSTRUCTION, IMAGE_LEAD_IN, base_parser, finish, human_turn, lettered_options

LETTERS = "ABCD"
PNG_MAGIC = b"\x89PNG"


def read_tsv(path: Path) -> list[dict]:
    csv.field_size_limit(sys.maxsize)  # the base64 image column is far over csv's default limit
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def save_image(encoded: str, directory: Path, index: str) -> Path:
    data = base64.b64decode(encoded)
    suffix = "png" if data.startswith(PNG_MAGIC) else "jpg"
    path = directory / f"{index}.{suffix}"
    if not path.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def prompt(hint: str, question: str, options: dict[str, str]) -> str:
    parts = ([hint] if hint else []) + [question, lettered_options(list(options.values())), CHOICE_INSTRUCTION]
    return IMAGE_LEAD_IN + "\n".join(parts)


def convert(records: list[dict], media_root: Path, image_dir: str = "mmbench_images") -> list[dict]:
    rows = []
    for rec in records:
        options = {k: rec[k].strip() for k in LETTERS if (rec.get(k) or "").strip() and rec[k].strip() != "nan"}
        hint = (rec.get("hint") or "").strip()
        hint = "" if hint == "nan" else hint
        image = save_image(rec["image"], media_root / image_dir, rec["index"]).relative_to(media_root)
        rows.append({"id": rec["index"], "image": image.as_posix(),
                     "conversations": human_turn(prompt(hint, rec["question"], options)),
                     "question": rec["question"], "hint": hint, "options": options, "answer": rec["answer"],
                     "category": rec.get("category"), "l2-category": rec.get("l2-category")})
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--image-dir", default="mmbench_images", help="where decoded images go, under the media root")
    args = parser.parse_args(argv)
    return finish(convert(read_tsv(args.input), args.media_root, args.image_dir), args, "mmbench")


if __name__ == "__main__":
    main()
