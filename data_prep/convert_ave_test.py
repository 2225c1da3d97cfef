"""AVE test split (testSet.txt, lines ``Category&VideoID&Quality&StartTime&EndTime``) → unified
evaluation JSONL with the official question and the truth in the official form
``event:NAME start_time:s end_time:e`` (what ``moka_train.eval.metrics.ave`` reads).

    python data_prep/convert_ave_test.py --input AVE_Dataset/testSet.txt --output eval/ave_test.jsonl \
        --media-root DATA [--video-dir AVE --audio-dir audio]
"""

from __future__ import annotations

from common import AV_LEAD_IN, base_parser, finish, human_turn

QUESTION = "Please describe the events and time range that occurred in the video."


def parse_lines(text: str, source: str = "?") -> list[tuple[str, str, int, int]]:
    """(category, video id, start, end) per line; the header line some copies carry is skipped."""
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.strip().split("&")
        if not line.strip() or parts[0] == "Category":
            continue
        if len(parts) != 5:
            raise ValueError(f"{source}:{lineno}: expected Category&VideoID&Quality&Start&End, got {line!r}")
        out.append((parts[0], parts[1], int(parts[3]), int(parts[4])))
    return out


def convert(entries: list[tuple[str, str, int, int]], video_dir: str = "AVE", audio_dir: str = "audio") -> list[dict]:
    rows, seen = [], set()
    for category, vid, start, end in entries:
        if vid in seen:  # a few AVE videos are annotated twice; the first line is the split's truth
            continue
        seen.add(vid)
        rows.append({"id": vid, "video": f"{video_dir}/{vid}.mp4", "audio": f"{audio_dir}/{vid}.wav",
                     "conversations": human_turn(AV_LEAD_IN + f"Please answer this question: {QUESTION}"),
                     "question": QUESTION, "answer": f"event:{category} start_time:{start} end_time:{end}",
                     "event": category, "start_time": start, "end_time": end})
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--video-dir", default="AVE")
    parser.add_argument("--audio-dir", default="audio")
    args = parser.parse_args(argv)
    entries = parse_lines(args.input.read_text(encoding="utf-8"), str(args.input))
    return finish(convert(entries, args.video_dir, args.audio_dir), args, "ave_test")


if __name__ == "__main__":
    main()
