"""MMAU test-mini (mmau-test-mini.json), speech subset → unified evaluation JSONL.

    python data_prep/convert_mmau.py --input mmau-test-mini.json --output eval/mmau_speech.jsonl --media-root DATA

Items carry ``id``, ``audio_id`` (e.g. ``./test-mini-audios/<id>.wav``, relative to the MMAU
folder, which should be the media root or given with --audio-prefix), ``question``, ``choices``,
``answer`` (the option text), ``task`` (speech / sound / music), ``category``, ``difficulty``.
Only ``task == "speech"`` is kept. The clip becomes the ``speech`` modality.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

from common import CHOICE_INSTRUCTION, SPEECH_LEAD_IN, base_parser, finish, human_turn, lettered_options


def convert(items: list[dict], audio_prefix: str = "", task: str = "speech") -> list[dict]:
    rows = []
    for item in items:
        if item.get("task") != task:
            continue
        audio = PurePosixPath(audio_prefix) / PurePosixPath(item["audio_id"].removeprefix("./"))
        text = "\n".join([f"Please answer this question: {item['question']}", lettered_options(item["choices"]),
                          CHOICE_INSTRUCTION])
        rows.append({"id": item["id"], "speech": audio.as_posix(), "conversations": human_turn(SPEECH_LEAD_IN + text),
                     "question": item["question"], "choices": item["choices"], "answer": item["answer"],
                     "category": item.get("category"), "sub-category": item.get("sub-category"),
                     "difficulty": item.get("difficulty")})
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--audio-prefix", default="", help="folder of the MMAU clips under the media root")
    args = parser.parse_args(argv)
    items = json.loads(args.input.read_text(encoding="utf-8"))
    return finish(convert(items, args.audio_prefix), args, "mmau_speech")


if __name__ == "__main__":
    main()
