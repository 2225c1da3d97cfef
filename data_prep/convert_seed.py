"""SEED-Bench v1 (SEED-Bench.json: ``questions`` + ``question_type`` name→id) → unified evaluation JSONL.

    python data_prep/convert_seed.py --input SEED-Bench.json --output eval/seed.jsonl --media-root DATA \
        [--image-dir SEED-Bench-image --frame-dir v1_video]

Format: AILab-CVC/SEED-Bench DATASET.md (v1): ``question_id``, ``data_id``, ``data_type`` (image /
video), ``question``, ``choice_a``..``choice_d``, ``answer``, ``question_type_id``, ``segment`` for
dimensions 11-12. Image questions point at ``<image-dir>/<data_id>``. Video questions (dimensions
10-12) are answered from one frame, as the official MokA evaluation answers them from the clip's
first frame: the frames are keyed per question as SEED-Bench's own ``v1_video`` release is,
``<frame-dir>/task<dim>/<name>_8_frame/<question_id>/<N>.png`` (N = 1..8, evenly spread over the
question's segment); ``--frame-number`` picks N (1: the first). Frames of another folder name
under ``task<dim>/*_8_frame`` are found too. ``extract_seed_frames.py`` writes them from the videos.
The prompt is the official one (GeWu-Lab/MokA VisualText/eval_benchmarks/seed/seed.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import Conversion, ConversionError, cli, conversation, lookups_from_args, read_json, records

from moka_train.eval.protocol import seed_prompt

FIELDS = (
    "question_id",
    "data_id",
    "question",
    "choice_a",
    "choice_b",
    "choice_c",
    "choice_d",
    "answer",
    "question_type_id",
)
LAYOUTS = {"image": ("SEED-Bench-image", "")}
FRAME_DIRS = ("v1_video", "SEED-Bench-video-image", "")
# folder names our frame extractor writes, per video dimension (any task<dim>/*_8_frame is read)
FRAME_FOLDERS = {10: "task10/ssv2_8_frame", 11: "task11/kitchen_8_frame", 12: "task12/breakfast_8_frame"}


def frame_path(media_root: Path, frame_dirs: list[str], question: dict, number: int) -> tuple[str, bool]:
    """(relative frame path, found) for a video question; the extractor's name when absent."""
    dim, qid = int(question["question_type_id"]), str(question["question_id"])
    if dim not in FRAME_FOLDERS:
        raise ConversionError(
            f"question {qid!r}: data_type video with question_type_id {dim}, expected one of {sorted(FRAME_FOLDERS)}"
        )
    for folder in frame_dirs:
        base = media_root / folder / f"task{dim}"
        for candidate in sorted(base.glob(f"*_8_frame/{qid}/{number}.png")):
            return candidate.relative_to(media_root).as_posix(), True
    return Path(frame_dirs[0], FRAME_FOLDERS[dim], qid, f"{number}.png").as_posix(), False


def convert(args: argparse.Namespace) -> Conversion:
    bench = read_json(args.input, dict, 'SEED-Bench.json: {"questions": [...], "question_type": {...}}')
    if not isinstance(bench.get("questions"), list):
        raise ConversionError(f"{args.input}: no 'questions' list (keys {sorted(bench)})")
    names = {int(v): k for k, v in bench.get("question_type", {}).items()}
    lookups = lookups_from_args(args, LAYOUTS)
    frame_dirs = args.frame_dir or list(FRAME_DIRS)
    conv = Conversion("seed", args.media_root, lookups)
    for q in records(conv, bench["questions"], FIELDS, f"{args.input}: questions"):
        choices = [q[f"choice_{c}"] for c in "abcd"]
        if q.get("data_type", "image") == "video":
            image, found = frame_path(args.media_root, frame_dirs, q, args.frame_number)
            lookups["image"].used["video frames" if found else "missing"] += 1
        else:
            image = lookups["image"].path(str(q["data_id"]))
        row = {
            "id": str(q["question_id"]),
            "conversations": conversation(seed_prompt(q["question"], choices)),
            "question": q["question"],
            "options": choices,
            "answer": q["answer"],
            "question_type_id": q["question_type_id"],
            "data_type": q.get("data_type", "image"),
            "dimension": names.get(int(q["question_type_id"]), str(q["question_type_id"])),
        }
        conv.add(row, {"image": image}, args.drop_missing)
    return conv


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--frame-dir",
        action="append",
        default=None,
        help=f"folder of the per-question video frames; default: {', '.join(FRAME_DIRS[:2])}, the root",
    )
    parser.add_argument("--frame-number", type=int, default=1, choices=range(1, 9), help="which of the 8 frames")


main = cli(convert, __doc__, {"image": "SEED-Bench-image, the root"}, add_flags)


if __name__ == "__main__":
    raise SystemExit(main())
