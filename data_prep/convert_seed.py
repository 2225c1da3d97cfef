"""SEED-Bench (SEED-Bench.json: ``questions`` + ``question_type`` name→id) → unified evaluation JSONL.

    python data_prep/convert_seed.py --input SEED-Bench.json --output eval/seed.jsonl --media-root DATA \
        [--image-dir SEED-Bench-image --frame-dir SEED-Bench-video-frames]

Image questions point at ``<image-dir>/<data_id>``. Video questions are answered from their first
frame (as the official MokA evaluation does): ``<frame-dir>/<data_id stem>.png``, to be extracted
beforehand; missing frames show in the report. Options are ``choice_a``..``choice_d``.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

from common import CHOICE_INSTRUCTION, IMAGE_LEAD_IN, base_parser, finish, human_turn, lettered_options


def image_path(question: dict, image_dir: str, frame_dir: str) -> str:
    data_id = str(question["data_id"])
    if question.get("data_type", "image") == "image":
        return f"{image_dir}/{data_id}"
    return f"{frame_dir}/{PurePosixPath(data_id).stem}.png"


def convert(bench: dict, image_dir: str = "SEED-Bench-image", frame_dir: str = "SEED-Bench-video-frames") -> list[dict]:
    names = {int(v): k for k, v in bench.get("question_type", {}).items()}
    rows = []
    for q in bench["questions"]:
        options = [q[f"choice_{k}"] for k in "abcd" if q.get(f"choice_{k}") is not None]
        text = "\n".join([q["question"], lettered_options(options), CHOICE_INSTRUCTION])
        rows.append({"id": str(q["question_id"]), "image": image_path(q, image_dir, frame_dir),
                     "conversations": human_turn(IMAGE_LEAD_IN + text), "question": q["question"],
                     "options": options, "answer": q["answer"], "question_type_id": q["question_type_id"],
                     "dimension": names.get(int(q["question_type_id"]), str(q["question_type_id"])),
                     "data_type": q.get("data_type", "image")})
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--image-dir", default="SEED-Bench-image")
    parser.add_argument("--frame-dir", default="SEED-Bench-video-frames")
    args = parser.parse_args(argv)
    bench = json.loads(args.input.read_text(encoding="utf-8"))
    return finish(convert(bench, args.image_dir, args.frame_dir), args, "seed")


if __name__ == "__main__":
    main()
