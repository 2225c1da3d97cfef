"""MUSIC-AVQA training questions → unified JSONL (audio-visual-text fine-tuning).

    # the paper recipes (configs/avqa_*.yaml): the official MokA list with its reasoning targets
    python data_prep/convert_music_avqa_train.py --format moka \
        --input MUSIC_AVQA_data/train_samples_with_reasoning_avqa.json \
        --media-root $DATA_ROOT/music_avqa --output $DATA_ROOT/music_avqa/train_with_reasoning.jsonl
    # bare answer tags from the MUSIC-AVQA release (the default format, ``--format tags``)
    python data_prep/convert_music_avqa_train.py --input MUSIC-AVQA/data/json_update/avqa-train.json \
        --media-root $DATA_ROOT/music_avqa --output $DATA_ROOT/music_avqa/train.jsonl

``--format moka`` reads the official training list (GeWu-Lab/MokA AudioVisualText/dataset/
unified_dataset.py ``add_avqa_task_samples``, lines 58-88): items with ``video_id, question_id,
type, video_path, audio_path, question, answer, label``. The trained answer is ``label`` exactly as
the list holds it (the reasoning text, then ``<answer>X</answer>``; the official code appends
``</s>`` and strips nothing); the prompt is the official instruction ``Please answer this
question: {question}`` after the media lead-in (``protocol.music_avqa_prompt``). The official code
opens ``video_path``/``audio_path`` as written, relative to its working directory, and its README
asks users to rewrite them; so a path that names a file under ``--media-root`` (relative to it,
or absolute inside it) is used, and otherwise the file is looked up by its name and the
``video_id`` in the known layouts (``video_data/*.mp4``, ``audio_data/*.mp3``, ...).

``--format tags`` reads the MUSIC-AVQA release (format and layouts: ``music_avqa_format``):
deleted questions (``question_deleted``) are counted as skipped; the target is the bare
``<answer>X</answer>`` (without the official reasoning text), the answer from the dataset's
42-word vocabulary kept verbatim; ``question_type`` keeps the official type.

Either way a question id met twice stops the run, and a missing media file is reported (the row
is kept unless ``--drop-missing``).
"""

from __future__ import annotations

import argparse
from pathlib import Path, PurePath

import music_avqa_format as avqa
from common import Conversion, ConversionError, cli, conversation, lookups_from_args, read_json, records
from media_lookup import MediaLookup

from moka_train.eval.protocol import music_avqa_prompt

FORMATS = ("tags", "moka")
# the fields add_avqa_task_samples reads from every item (unified_dataset.py lines 64-71)
MOKA_FIELDS = ("video_id", "question_id", "type", "video_path", "audio_path", "question", "answer", "label")


def convert(args: argparse.Namespace) -> Conversion:
    return convert_moka(args) if args.format == "moka" else convert_tags(args)


def convert_tags(args: argparse.Namespace) -> Conversion:
    items = avqa.read_items(args.input)
    lookups = lookups_from_args(args, avqa.LAYOUTS)
    conv = Conversion("music_avqa_train", args.media_root, lookups)
    for k, item in enumerate(items):
        conv.read += 1
        if int(item.get("question_deleted", 0)):
            conv.skip("question_deleted")
            continue
        where = f"{args.input}: item {k}"
        vid, answer = item["video_id"], avqa.answer(item)
        prompt = music_avqa_prompt(avqa.question(item, where))
        row = {
            "id": f"avqa_{item['question_id']}",
            "question_type": avqa.question_type(item, where),
            "answer": answer,
            "conversations": conversation(prompt, f"<answer>{answer}</answer>"),
        }
        conv.add(row, {"video": lookups["video"].path(vid), "audio": lookups["audio"].path(vid)}, args.drop_missing)
    return conv


def convert_moka(args: argparse.Namespace) -> Conversion:
    items = read_json(args.input, list, "the official MokA list (train_samples_with_reasoning_avqa.json)")
    lookups = lookups_from_args(args, avqa.LAYOUTS)
    conv = Conversion("music_avqa_train", args.media_root, lookups)
    conv.notes.update(format="moka", media_from_annotation_paths=0)
    for k, item in enumerate(records(conv, items, MOKA_FIELDS, f"{args.input} (--format moka)")):
        where = f"{args.input}: item {k} (question_id {item['question_id']})"
        row = {
            "id": f"avqa_{item['question_id']}",
            "type": item["type"],
            "answer": item["answer"],
            "conversations": conversation(music_avqa_prompt(text(item, "question", where)), text(item, "label", where)),
        }
        media = {kind: annotated_media(conv, lookups[kind], item[f"{kind}_path"], item["video_id"]) for kind in lookups}
        conv.add(row, media, args.drop_missing)
    return conv


def text(item: dict, key: str, where: str) -> str:
    """A field the prompt or the target is made of: a non-empty string, kept exactly as written."""
    value = item[key]
    if not isinstance(value, str) or not value.strip():
        raise ConversionError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return value


def annotated_media(conv: Conversion, lookup: MediaLookup, given: object, vid: object) -> str:
    """The file the official list names when it lies under the media root, else the file found by
    its name or the video id in the known layouts (the official paths are the authors' own); a
    file found nowhere is reported missing under the list's own relative path."""
    path = PurePath(str(given))
    root = Path(conv.media_root).resolve()
    full = Path(path) if path.is_absolute() else root / path
    if full.is_file() and full.resolve().is_relative_to(root):
        conv.notes["media_from_annotation_paths"] += 1
        return full.resolve().relative_to(root).as_posix()
    found = lookup.path(path.name, str(vid)) if path.name else lookup.path(str(vid))
    missing = not (root / found).is_file()
    return path.as_posix() if missing and path.parts and not path.is_absolute() else found  # report it as listed


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="tags",
        help="moka: the official train_samples_with_reasoning_avqa.json, trained on its 'label' "
        "(reasoning + <answer>X</answer>; what the paper recipes train on); tags (default): the "
        "MUSIC-AVQA release's avqa-train.json, trained on the bare <answer>X</answer>",
    )


main = cli(convert, __doc__, avqa.LAYOUT_HELP, add_flags)

if __name__ == "__main__":
    raise SystemExit(main())
