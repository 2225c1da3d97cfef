"""AIR-Bench foundation (Foundation_meta.json of OFA-Sys/AIR-Bench), English speech tasks →
unified evaluation JSONL.

    python data_prep/convert_airbench.py --input Foundation_meta.json --output eval/airbench_speech.jsonl \
        --media-root DATA [--speech-dir Foundation] [--tasks Speaker_Gender_Recognition ...]

Items carry ``path``, ``question``, ``choice_a``..``choice_d`` (c, d absent on two-option items),
``answer_gt`` (the option text), ``task_name``, ``dataset_name``, ``uniq_id``; clips live in
``<speech-dir>/<task_name>_<dataset_name>/<path>`` (Inference_Foundation.py; Audio_Grounding's are
``.flac`` under a ``.wav`` name, the lookup finds either). The task names are the release's own,
misspellings included (``Speaker_Emotion_Recontion``, ``Speech_Entity_Reconition``). Every item is
written or counted: other speech tasks (language identification: its clips are not English) as
``task_not_selected``, sound/music tasks as ``task_not_speech``, an unknown name as ``task_unknown``.
The prompt is AIR-Bench's published one (``moka_train.eval.protocol.airbench_prompt``).
"""

from __future__ import annotations

import argparse

from common import Conversion, ConversionError, cli, conversation, lookups_from_args, read_json, records

from moka_train.eval.protocol import airbench_prompt

# the release's nine speech task names (Foundation_meta.json ``task_name``; spelling as released)
SPEECH_TASKS = (
    "Speech_Grounding",
    "Spoken_Language_Identification",
    "Speaker_Gender_Recognition",
    "Speaker_Emotion_Recontion",
    "Speaker_Age_Prediction",
    "Speech_Entity_Reconition",
    "Speaker_Intent_Classification",
    "Speaker_Number_Verification",
    "Synthesized_Voice_Detection",
)
SPEECH_EN_TASKS = tuple(t for t in SPEECH_TASKS if t != "Spoken_Language_Identification")
OTHER_TASKS = (
    "Audio_Grounding",
    "vocal_sound_classification",
    "Acoustic_Scene_Classification",
    "Sound_AQA",
    "Music_Instruments_Classfication",
    "Music_Genre_Recognition",
    "Music_Midi_Pitch_Analysis",
    "Music_Midi_Velocity_Analysis",
    "Music_AQA",
    "Music_Mood_Recognition",
)
FIELDS = ("path", "question", "choice_a", "choice_b", "answer_gt", "task_name", "dataset_name", "uniq_id")
LAYOUTS = {"speech": ("Foundation", "")}


def skip_reason(task: str, selected: tuple[str, ...]) -> str | None:
    if task in selected:
        return None
    if task in SPEECH_TASKS:
        return "task_not_selected"
    return "task_not_speech" if task in OTHER_TASKS else "task_unknown"


def convert(args: argparse.Namespace) -> Conversion:
    unknown = sorted(set(args.tasks) - set(SPEECH_TASKS) - set(OTHER_TASKS))
    if unknown:
        raise ConversionError(
            f"--tasks {unknown} are not AIR-Bench foundation task names; speech tasks: {SPEECH_TASKS}"
        )
    items = read_json(args.input, list, "the AIR-Bench Foundation_meta.json list")
    lookups = lookups_from_args(args, LAYOUTS)
    conv = Conversion("airbench_speech", args.media_root, lookups)
    for item in records(conv, items, FIELDS, args.input):
        reason = skip_reason(item["task_name"], tuple(args.tasks))
        if reason:
            conv.skip(reason)
            continue
        choices = [item.get(f"choice_{c}") for c in "abcd"]
        options = [c for c in choices if c is not None]
        row = {
            "id": str(item["uniq_id"]),
            "conversations": conversation(airbench_prompt(item["question"], *choices)),
            "question": item["question"],
            "options": options,
            "answer": item["answer_gt"],
            "task_name": item["task_name"],
            "dataset_name": item["dataset_name"],
        }
        clip = f"{item['task_name']}_{item['dataset_name']}/{item['path']}"
        conv.add(row, {"speech": lookups["speech"].path(clip)}, args.drop_missing)
    return conv


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", nargs="+", default=list(SPEECH_EN_TASKS), help="task_name values to keep")


main = cli(convert, __doc__, {"speech": "Foundation, the root"}, add_flags)


if __name__ == "__main__":
    raise SystemExit(main())
