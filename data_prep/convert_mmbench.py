"""MMBench dev, legacy English TSV (MMBench_DEV_EN_legacy.tsv / mmbench_dev_20230712.tsv) →
unified evaluation JSONL.

    python data_prep/convert_mmbench.py --input MMBench_DEV_EN_legacy.tsv --output eval/mmbench.jsonl \
        --media-root DATA [--image-dir mmbench_images]

Columns (open-compass MMBench release): index, question, hint, A, B, C, D[, E], answer, category,
image (base64; a cell of 64 characters or fewer is instead the ``index`` of the row holding the same
image, the release's de-duplication as open-compass/VLMEvalKit reads it), source, l2-category, ...
Empty cells are read as the official script's pandas reads them: the NA spellings below are
absent values. Images are decoded into ``<media-root>/<image-dir>/<index>.<jpg|png>`` (existing
files are left alone). The prompt is the official one (GeWu-Lab/MokA
VisualText/eval_benchmarks/mmbench/mmbench.py; ``protocol.mmbench_prompt``), and so is the system
prompt: each row's first turn is a ``system`` turn with mmbench.py's classification-assistant text
(line 221; ``protocol.MMBENCH_SYSTEM_PROMPT``), which replaces ``data.system_prompt`` for that row.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import sys
from pathlib import Path

from common import Conversion, ConversionError, cli, conversation

from moka_train.eval.protocol import MMBENCH_SYSTEM_PROMPT, mmbench_prompt

OPTION_KEYS = ("A", "B", "C", "D", "E")  # mmbench.py's option_candidate
FIELDS = ("index", "question", "A", "B", "answer", "image")
PNG_MAGIC = b"\x89PNG"
# pandas.read_csv's default NA strings: mmbench.py reads the TSV with pandas and drops NaN cells
PANDAS_NA = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)


def read_tsv(path: Path) -> list[dict]:
    csv.field_size_limit(sys.maxsize)  # the base64 image column is far over csv's default limit
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if rows and any(key not in rows[0] for key in FIELDS):
        raise ConversionError(f"{path}: not an MMBench TSV: columns {list(rows[0])[:14]}, need {list(FIELDS)}")
    return rows


def cell(record: dict, key: str) -> str | None:
    value = record.get(key)
    return None if value is None or value in PANDAS_NA else value


def image_bytes(record: dict, by_index: dict[str, dict], where: str) -> bytes:
    encoded = record["image"]
    if len(encoded.strip()) <= 64:  # a reference to the row holding the image (VLMEvalKit reads it so)
        target = by_index.get(encoded.strip())
        if target is None or len(target["image"].strip()) <= 64:
            raise ConversionError(
                f"{where}: image cell {encoded!r} names row index {encoded.strip()!r}, "
                "which is not in the file or holds no image itself"
            )
        encoded = target["image"]
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ConversionError(
            f"{where}: the image cell is neither base64 nor a row index (starts {encoded[:20]!r})"
        ) from None


def save_image(data: bytes, directory: Path, index: str) -> Path:
    path = directory / f"{index}.{'png' if data.startswith(PNG_MAGIC) else 'jpg'}"
    if not path.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def convert(args: argparse.Namespace) -> Conversion:
    records = read_tsv(args.input)
    by_index = {rec["index"].strip(): rec for rec in records}
    image_dir = (args.image_dir or ["mmbench_images"])[0]
    conv = Conversion("mmbench", args.media_root)
    for k, rec in enumerate(records, start=2):  # line 1 is the header
        conv.read += 1
        where = f"{args.input}:{k} (index {rec['index']})"
        options = {key: cell(rec, key) for key in OPTION_KEYS if cell(rec, key) is not None}
        hint = cell(rec, "hint")
        image = save_image(image_bytes(rec, by_index, where), args.media_root / image_dir, rec["index"])
        row = {
            "id": rec["index"],
            "conversations": [{"from": "system", "value": MMBENCH_SYSTEM_PROMPT}]
            + conversation(mmbench_prompt(rec["question"], options, hint)),
            "question": rec["question"],
            "hint": hint,
            "options": options,
            "answer": rec["answer"],
            "category": rec.get("category"),
            "l2-category": rec.get("l2-category"),
        }
        conv.add(row, {"image": image.relative_to(args.media_root).as_posix()}, args.drop_missing)
    return conv


main = cli(convert, __doc__, {"image": "mmbench_images (decoded images are written there)"})


if __name__ == "__main__":
    raise SystemExit(main())
