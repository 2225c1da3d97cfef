"""MUSIC-AVQA test set (avqa-test.json) → unified evaluation JSONL.

    python data_prep/convert_music_avqa_test.py --input avqa-test.json --output eval/music_avqa_test.jsonl \
        --media-root DATA [--video-dir videos --audio-dir audio]

Each published item carries ``video_id``, ``question_id``, ``type`` (a JSON list string such as
``'["Audio", "Counting"]'``), ``question_content`` with ``<Object>``-style slots filled in order
from ``templ_values``, and the truth in ``anser`` (sic; ``answer`` is accepted too).
"""

from __future__ import annotations

import json
import re

from common import AV_LEAD_IN, base_parser, finish, human_turn

_SLOT = re.compile(r"<[^<>]+>")


def fill_template(question: str, values: list[str]) -> str:
    """Replace the slots left to right; the published file stores the values as a JSON string."""
    remaining = iter(values)
    return _SLOT.sub(lambda m: next(remaining, m.group(0)), question)


def convert(items: list[dict], video_dir: str = "videos", audio_dir: str = "audio") -> list[dict]:
    rows = []
    for item in items:
        values = item.get("templ_values") or "[]"
        question = fill_template(item["question_content"], json.loads(values) if isinstance(values, str) else values)
        vid = item["video_id"]
        rows.append({"id": str(item["question_id"]),
                     "video": f"{video_dir}/{vid}.mp4", "audio": f"{audio_dir}/{vid}.wav",
                     "conversations": human_turn(AV_LEAD_IN + f"Please answer this question: {question}"),
                     "question": question, "answer": item.get("anser", item.get("answer")), "type": item["type"]})
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--video-dir", default="videos", help="video folder under the media root")
    parser.add_argument("--audio-dir", default="audio", help="audio folder under the media root")
    args = parser.parse_args(argv)
    items = json.loads(args.input.read_text(encoding="utf-8"))
    return finish(convert(items, args.video_dir, args.audio_dir), args, "music_avqa_test")


if __name__ == "__main__":
    main()
