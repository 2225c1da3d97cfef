"""AVE training videos → unified JSONL (audio-visual event localisation fine-tuning).

    python data_prep/convert_ave_train.py --input AVE_Dataset/Annotations.txt --split-file AVE_Dataset/trainSet.txt \
        --media-root $DATA_ROOT/ave --out $DATA_ROOT/ave/train.jsonl

Input: the official ``Annotations.txt`` / ``trainSet.txt`` lines ``Category&VideoID&Quality&StartTime&EndTime``
(a header line first). Only videos listed in the split file are written. The question is the
official one; the answer follows the official recipe's tags: ``<event>NAME</event><range>s,e</range>``
(the official reasoning sentence is not reproduced). Media: ``video/<id>.mp4``, ``audio/<id>.wav``.
"""

from __future__ import annotations

from pathlib import Path

from train_common import AV_PROMPT, Conversion, base_parser, conversation, report

AVE_QUESTION = "Please describe the events and time range that occurred in the video."


def read_annotations(path: Path) -> list[dict]:
    rows = []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), start=1):
        parts = line.strip().split("&")
        if len(parts) != 5 or parts[0] == "Category":
            continue  # header or blank
        cat, vid, quality, start, end = parts
        try:
            rows.append({"category": cat, "video_id": vid, "start": int(start), "end": int(end)})
        except ValueError:
            raise ValueError(f"{path}:{lineno}: start/end must be integers, got {start!r}, {end!r}") from None
    return rows


def convert(annotations: Path, split_file: Path, media_root: Path, drop_missing: bool = False) -> Conversion:
    conv = Conversion("ave_train", media_root)
    wanted = {r["video_id"] for r in read_annotations(split_file)}
    for a in read_annotations(annotations):
        if a["video_id"] not in wanted:
            continue
        vid = a["video_id"]
        answer = f"<event>{a['category']}</event><range>{a['start']},{a['end']}</range>"
        row = {"id": f"ave_{vid}", "event": a["category"], "range": [a["start"], a["end"]],
               "conversations": conversation(AV_PROMPT.format(q=AVE_QUESTION), answer)}
        conv.add(row, {"video": f"video/{vid}.mp4", "audio": f"audio/{vid}.wav"}, drop_missing)
    return conv


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--split-file", type=Path, required=True, help="trainSet.txt")
    args = parser.parse_args(argv)
    return report(convert(args.input, args.split_file, args.media_root, args.drop_missing).write(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
