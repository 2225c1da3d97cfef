"""MUSIC-AVQA training questions → unified JSONL (audio-visual-text fine-tuning).

    python data_prep/convert_music_avqa_train.py --input avqa-train.json --media-root $DATA_ROOT/music_avqa \
        --out $DATA_ROOT/music_avqa/train.jsonl

Input: the official split file ``avqa-train.json`` (a list of ``{"video_id", "question_id",
"type", "question_content", "templ_values", "question_deleted", "anser"}``; ``anser`` is the
official spelling). The ``<Object>``-style slots of the question template are filled in order
from ``templ_values``; deleted questions are left out. Media: ``video/<video_id>.mp4`` and
``audio/<video_id>.wav`` under the media root (``--video-dir``/``--audio-dir``). The target is
``<answer>X</answer>`` (the official format, without the official reasoning text), the answer
from the dataset's 42-word vocabulary kept verbatim; ``question_type`` keeps the official type.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from train_common import AV_PROMPT, Conversion, base_parser, conversation, report

_SLOT = re.compile(r"<[^<>]+>")


def fill_template(question: str, values: list[str]) -> str:
    """Replace the k-th ``<Slot>`` with the k-th value; a count mismatch is an error."""
    slots = _SLOT.findall(question)
    if len(slots) != len(values):
        raise ValueError(f"question {question!r} has {len(slots)} slots but {len(values)} values {values}")
    it = iter(values)
    return _SLOT.sub(lambda _m: next(it), question)


def convert(input_file: Path, media_root: Path, video_dir: str = "video", audio_dir: str = "audio",
            drop_missing: bool = False) -> Conversion:
    conv = Conversion("music_avqa_train", media_root)
    for q in json.loads(Path(input_file).read_text()):
        if int(q.get("question_deleted", 0)):
            conv.skip("question_deleted")
            continue
        values = json.loads(q["templ_values"]) if isinstance(q["templ_values"], str) else q["templ_values"]
        question = fill_template(q["question_content"], values)
        vid = q["video_id"]
        media = {"video": f"{video_dir}/{vid}.mp4", "audio": f"{audio_dir}/{vid}.wav"}
        qtype = json.loads(q["type"]) if isinstance(q["type"], str) else q["type"]
        row = {"id": f"avqa_{q['question_id']}", "question_type": qtype, "answer": q["anser"],
               "conversations": conversation(AV_PROMPT.format(q=question), f"<answer>{q['anser']}</answer>")}
        conv.add(row, media, drop_missing)
    return conv


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--video-dir", default="video")
    parser.add_argument("--audio-dir", default="audio")
    args = parser.parse_args(argv)
    conv = convert(args.input, args.media_root, args.video_dir, args.audio_dir, args.drop_missing)
    return report(conv.write(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
