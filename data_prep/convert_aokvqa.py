"""A-OKVQA (multiple choice) → unified JSONL; optional seeded subset (the paper used 12K).

    python data_prep/convert_aokvqa.py --input aokvqa_v1p0_train.json --media-root $DATA_ROOT/visual \
        --image-dir coco/train2017 --limit 12000 --seed 0 --output $DATA_ROOT/visual/aokvqa_12k.jsonl

Input: the official JSON list (allenai/aokvqa) ``{"question_id", "image_id", "question",
"choices", "correct_choice_idx", ...}``. Images are ``<image-dir>/<image_id:012d>.jpg`` (COCO
2017 naming). The prompt lists the choices as ``(A) ...`` lines; the target is the letter and the
choice, ``(B) umbrella``; ``answer`` keeps the letter. Rows left out by ``--limit`` are counted as
``not_sampled``; test-split rows without an answer as ``no_answer``.
"""

from __future__ import annotations

import argparse
import random

from common import Conversion, cli, conversation, lookups_from_args, read_json, require_keys

from moka_train.data.official_prompt import question_prompt
from moka_train.eval.protocol import IMAGE_LEAD_IN

LETTERS = "ABCDEFGH"
INSTRUCTION = "Answer with the option's letter from the given choices directly."
FIELDS = ("question_id", "image_id", "question", "choices")


def prompt(question: str, choices: list[str]) -> str:
    options = "\n".join(f"({LETTERS[k]}) {c}" for k, c in enumerate(choices))
    # the official visual-text turn (VT train/train.py 98): lead-in, "Please answer this question: ", question
    return question_prompt(IMAGE_LEAD_IN, f"{question}\n{options}\n{INSTRUCTION}")


def convert(args: argparse.Namespace) -> Conversion:
    records = read_json(args.input, list, "the A-OKVQA question list")
    lookups = lookups_from_args(args, {"image": ("train2017", "coco/train2017", "val2017", "coco/val2017")})
    conv = Conversion("aokvqa", args.media_root, lookups)
    conv.read = len(records)
    if args.limit is not None and args.limit < len(records):
        conv.skip("not_sampled", len(records) - args.limit)
        records = random.Random(args.seed).sample(records, args.limit)  # a seeded subset, order kept stable below
        records.sort(key=lambda r: str(r.get("question_id")))
    for k, rec in enumerate(records):
        require_keys(rec, FIELDS, f"{args.input}: record {k}")
        idx = rec.get("correct_choice_idx")
        if idx is None:  # the test split has no answers
            conv.skip("no_answer")
            continue
        letter = LETTERS[idx]
        target = f"({letter}) {rec['choices'][idx]}"
        row = {
            "id": f"aokvqa_{rec['question_id']}",
            "answer": letter,
            "conversations": conversation(prompt(rec["question"], rec["choices"]), target),
        }
        conv.add(row, {"image": lookups["image"].path(f"{int(rec['image_id']):012d}.jpg")}, args.drop_missing)
    return conv


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)


main = cli(convert, __doc__, {"image": "train2017, coco/train2017, val2017, coco/val2017"}, add_flags)


if __name__ == "__main__":
    raise SystemExit(main())
