"""AIR-Bench foundation (Foundation_meta.json), English speech tasks → unified evaluation JSONL.

    python data_prep/convert_airbench.py --input Foundation_meta.json --output eval/airbench_speech.jsonl \
        --media-root DATA [--audio-dir Foundation] [--tasks Speaker_Gender_Recognition ...]

Items carry ``path``, ``question``, ``choice_a``..``choice_d``, ``answer_gt`` (the option text),
``task_name``, ``dataset_name``, ``uniq_id``; clips live in ``<audio-dir>/<task_name>_<dataset_name>/<path>``.
The default task list is the foundation speech tasks on English speech (language identification
is left out: its clips are not English).
"""

from __future__ import annotations

import json

from common import SPEECH_LEAD_IN, base_parser, finish, human_turn, lettered_options

SPEECH_EN_TASKS = ("Speech_Grounding", "Speaker_Gender_Recognition", "Emotion_Recognition", "Speaker_Age_Prediction",
                   "Speech_Entity_Reconition", "Intent_Classification", "Speaker_Number_Verification",
                   "Synthesized_Voice_Detection")
# the instruction AIR-Bench's foundation evaluation gives with every question
INSTRUCTION = "Choose the most suitable answer from options A, B, C, and D to respond the question in next line, " \
              "you may only choose A or B or C or D."


def convert(items: list[dict], audio_dir: str = "Foundation", tasks: tuple[str, ...] = SPEECH_EN_TASKS) -> list[dict]:
    rows = []
    for item in items:
        if item["task_name"] not in tasks:
            continue
        options = [item[f"choice_{k}"] for k in "abcd" if item.get(f"choice_{k}") is not None]
        text = "\n".join([INSTRUCTION, item["question"], lettered_options(options)])
        rows.append({"id": str(item["uniq_id"]),
                     "speech": f"{audio_dir}/{item['task_name']}_{item['dataset_name']}/{item['path']}",
                     "conversations": human_turn(SPEECH_LEAD_IN + text), "question": item["question"],
                     "options": options, "answer": item["answer_gt"], "task_name": item["task_name"]})
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--audio-dir", default="Foundation", help="AIR-Bench foundation clips under the media root")
    parser.add_argument("--tasks", nargs="+", default=list(SPEECH_EN_TASKS))
    args = parser.parse_args(argv)
    items = json.loads(args.input.read_text(encoding="utf-8"))
    return finish(convert(items, args.audio_dir, tuple(args.tasks)), args, "airbench_speech")


if __name__ == "__main__":
    main()
