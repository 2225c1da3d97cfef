"""Extract the 8 frames of every SEED-Bench v1 video question, keyed as SEED-Bench's ``v1_video``
release keys them: ``<output>/task<dim>/<name>_8_frame/<question_id>/<N>.png`` (N = 1..8).

    python data_prep/extract_seed_frames.py --input SEED-Bench.json --output DATA/v1_video \
        --ssv2-dir SSV2/videos --epic-dir EPIC-KITCHENS/videos/test --breakfast-dir BreakfastII_15fps_qvga_sync

Which frames: SEED-Bench's evaluation rule (AILab-CVC/SEED-Bench model/instruct_blip_interface.py,
``get_index`` and its callers), reimplemented in :func:`frame_indices`: 8 evenly spaced frames,
over the whole clip (dimension 10, Something-Something v2), over ``segment`` seconds (11,
Epic-Kitchens), over ``segment`` frames (12, Breakfast, 15 fps). Existing frames are kept.
Ends with one JSON report line; exits non-zero when no question has its frames.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import ConversionError, read_json
from convert_seed import FRAME_FOLDERS

FRAMES = 8


def evenly_spaced(num_frames: int, count: int = FRAMES) -> list[int]:
    """SEED-Bench's ``get_index``: all frames when fewer than ``count``; else the middle of the
    first of ``count`` segments of ``num_frames - 1`` and then one segment apart (numpy rounding)."""
    if count > num_frames:
        return list(range(num_frames))
    seg_size = float(num_frames - 1) / count
    return [int(seg_size / 2) + int(round(seg_size * k)) for k in range(count)]


def frame_indices(dimension: int, video_len: int, fps: float, segment: list | None) -> list[int]:
    if dimension == 12:  # integer frame segment, decoded frame by frame
        start, end = int(segment[0]), min(int(segment[1]), video_len)
        return [start + k for k in evenly_spaced(end - start)]
    if dimension == 11:  # segment in seconds
        start = int(min(max(segment[0] * fps, 0), video_len - 1))
        end = int(min(max(segment[1] * fps, 0), video_len - 1))
        return [start + k for k in evenly_spaced(end - start)]
    return evenly_spaced(video_len - 1)  # dimension 10: the whole clip


def extract_one(video: Path, question: dict, out_dir: Path) -> int:
    import decord  # imported here: the converters themselves need no video decoder
    from PIL import Image

    reader = decord.VideoReader(str(video), num_threads=1)
    indices = frame_indices(
        int(question["question_type_id"]), len(reader), reader.get_avg_fps(), question.get("segment")
    )
    frames = reader.get_batch(indices).asnumpy()
    out_dir.mkdir(parents=True, exist_ok=True)
    for number, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(out_dir / f"{number}.png")
    return len(frames)


def run(args: argparse.Namespace) -> dict:
    bench = read_json(args.input, dict, 'SEED-Bench.json: {"questions": [...]}')
    video_dirs = {10: args.ssv2_dir, 11: args.epic_dir, 12: args.breakfast_dir}
    report = {"read": 0, "written": 0, "skipped": {}, "missing_examples": [], "failed_examples": []}
    for q in bench.get("questions", []):
        if q.get("data_type") != "video":
            continue
        report["read"] += 1
        dim = int(q["question_type_id"])
        if dim not in FRAME_FOLDERS:
            raise ConversionError(f"question {q['question_id']!r}: video question of dimension {dim}")
        out_dir = args.output / FRAME_FOLDERS[dim] / str(q["question_id"])
        reason = _extract_or_reason(q, video_dirs[dim], out_dir, report)
        if reason:
            report["skipped"][reason] = report["skipped"].get(reason, 0) + 1
    return report


def _extract_or_reason(q: dict, video_dir: Path | None, out_dir: Path, report: dict) -> str | None:
    if (out_dir / "1.png").is_file():
        return "already_extracted"
    video = video_dir / q["data_id"] if video_dir else None
    if video is None or not video.is_file():
        report["missing_examples"] = (report["missing_examples"] + [str(video or q["data_id"])])[:5]
        return "video_missing" if video_dir else "no_video_dir_given"
    try:
        extract_one(video, q, out_dir)
    except Exception as err:  # decord raises its own errors; the report names the clip
        report["failed_examples"] = (report["failed_examples"] + [f"{video}: {type(err).__name__}: {err}"])[:5]
        return "decode_failed"
    report["written"] += 1
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True, help="SEED-Bench.json")
    parser.add_argument("--output", type=Path, required=True, help="frame folder (the converter's --frame-dir)")
    for name, what in (
        ("ssv2", "dimension 10 (Something-Something v2)"),
        ("epic", "dimension 11 (Epic-Kitchens)"),
        ("breakfast", "dimension 12 (Breakfast)"),
    ):
        parser.add_argument(f"--{name}-dir", type=Path, default=None, help=f"videos of {what}")
    args = parser.parse_args(argv)
    try:
        report = run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)  # noqa: T201
        return 2
    print(json.dumps(report))  # noqa: T201 - the one report line
    return 0 if report["written"] or report["skipped"].get("already_extracted") else 1


if __name__ == "__main__":
    raise SystemExit(main())
