"""A-OKVQA (multiple choice) → unified JSONL; optional seeded subset (the paper used 12K).

    python data_prep/convert_aokvqa.py --input aokvqa_v1p0_train.json --media-root $DATA_ROOT/visual \
        --image-dir coco/train2017 --limit 12000 --seed 0 --out $DATA_ROOT/visual/aokvqa_12k.jsonl

Input: the official JSON list ``{"question_id", "image_id", "question", "choices",
"correct_choice_idx", ...}``. Images are ``<image-dir>/<image_id:012d>.jpg`` (COCO 2017 naming).
The prompt lists the choices as ``(A) ...`` lines; the target is the letter and the choice,
``(B) umbrella``; ``answer`` keeps the letter.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from train_common import IMAGE_LEAD_IN, Conversion, base_parser, conversation, report

LETTERS = "ABCDEFGH"
INSTRUCTION = "Answer with the option's letter from the given choices directly."


def prompt(question: str, choices: list[str]) -> str:
    options = "\n".join(f"({LETTERS[k]}) {c}" for k, c in enumerate(choices))
    return f"{IMAGE_LEAD_IN}Please answer this question: {question}\n{options}\n{INSTRUCTION}"


def convert(input_file: Path, media_root: Path, image_dir: str = "train2017", limit: int | None = None,
            seed: int = 0, drop_missing: bool = False) -> Conversion:
    conv = Conversion("aokvqa", media_root)
    records = json.loads(Path(input_file).read_text())
    if limit is not None and limit < len(records):
        records = random.Random(seed).sample(records, limit)  # a seeded subset, order kept stable below
        records.sort(key=lambda r: r["question_id"])
    for rec in records:
        idx = rec.get("correct_choice_idx")
        if idx is None:  # the test split has no answers
            conv.skip("no_answer")
            continue
        letter = LETTERS[idx]
        row = {"id": f"aokvqa_{rec['question_id']}", "answer": letter,
               "conversations": conversation(prompt(rec["question"], rec["choices"]), f"({letter}) {rec['choices'][idx]}")}
        conv.add(row, {"image": f"{image_dir.rstrip('/')}/{int(rec['image_id']):012d}.jpg"}, drop_missing)
    return conv


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--image-dir", default="train2017")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    conv = convert(args.input, args.media_root, args.image_dir, args.limit, args.seed, args.drop_missing)
    return report(conv.write(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
