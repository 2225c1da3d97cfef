"""AVE training split → unified JSONL (audio-visual event localisation fine-tuning).

    # the paper recipes (configs/ave_*.yaml): the official MokA list with its reasoning targets
    python data_prep/convert_ave_train.py --format moka --input AVE_data/train_samples_ave.json \
        --labels AVE_data/converted_label --media-root $DATA_ROOT/ave \
        --output $DATA_ROOT/ave/train_with_reasoning.jsonl
    # bare event/range tags from the AVE release (the default format, ``--format tags``)
    python data_prep/convert_ave_train.py --input AVE_Dataset/trainSet.txt --exclude AVE_Dataset/testSet.txt \
        --media-root AVE_Dataset --output $DATA_ROOT/ave/train.jsonl

``--format moka`` reads the official training list (GeWu-Lab/MokA AudioVisualText/dataset/
unified_dataset.py ``add_ave_task_samples``, lines 91-118): items with ``event, vid, start_time,
end_time``; the trained answer is the whole text of ``<labels>/<vid>.txt`` as ``read_label``
returns it (``open(path, 'r').read()``: nothing stripped; the reasoning, then
``<event>NAME</event><range>s,e</range>``). A sample whose label file is missing stops the run,
naming it (``--drop-missing`` counts it as ``missing_label`` instead). Media: ``AVE/<vid>.mp4`` and
``audio_data/<vid>.mp3`` as the official code joins them (other layouts: ``ave_format``). A video
listed twice gives ``ave_<vid>`` and ``ave_<vid>#2`` (the official list trains both).

``--format tags`` reads the release's split files, one row per annotation line (see
``ave_format``): a video annotated twice gives ``ave_<id>`` and ``ave_<id>#2``, and the line of such
a video that belongs to the test split is never taken. ``--exclude`` (repeatable) names split files
whose lines must not enter training: a line found there is counted as ``in_excluded_split``. The
older call ``--input Annotations.txt --split-file trainSet.txt`` still works and selects by line
too (others: ``not_in_split_file``). The answer is the bare ``<event>NAME</event><range>s,e</range>``
(the official reasoning text is not reproduced).

The question is the official one either way (``protocol.ave_prompt``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ave_format
from common import Conversion, ConversionError, cli, conversation, lookups_from_args, read_json, records

from moka_train.eval.protocol import ave_prompt

FORMATS = ("tags", "moka")
MOKA_FIELDS = ("event", "vid", "start_time", "end_time")  # what add_ave_task_samples reads (lines 98-101)


def convert(args: argparse.Namespace) -> Conversion:
    check_flags(args)
    return convert_moka(args) if args.format == "moka" else convert_tags(args)


def check_flags(args: argparse.Namespace) -> None:
    """Each format's own flags; a flag the chosen format would ignore is refused by name."""
    if args.format == "moka" and args.labels is None:
        raise ConversionError("--format moka needs --labels: the official converted_label/ folder (<vid>.txt files)")
    if args.format == "moka" and (args.exclude or args.split_file):
        raise ConversionError("--exclude/--split-file select release split lines: use them with --format tags")
    if args.format == "tags" and args.labels is not None:
        raise ConversionError("--labels is read with --format moka only (the tags format writes bare tags)")
    if args.labels is not None and not Path(args.labels).is_dir():
        raise ConversionError(f"--labels {args.labels}: not a folder (expected the official converted_label/)")


def convert_tags(args: argparse.Namespace) -> Conversion:
    excluded = {ave_format.line_key(e) for path in args.exclude or [] for e in ave_format.read_lines(path)}
    wanted = {ave_format.line_key(e) for e in ave_format.read_lines(args.split_file)} if args.split_file else None
    lookups = lookups_from_args(args, ave_format.LAYOUTS)
    conv = Conversion("ave_train", args.media_root, lookups, duplicates="number")
    for entry in ave_format.read_lines(args.input):
        conv.read += 1
        if wanted is not None and ave_format.line_key(entry) not in wanted:
            conv.skip("not_in_split_file")
            continue
        if ave_format.line_key(entry) in excluded:
            conv.skip("in_excluded_split")
            continue
        vid = entry.video_id
        answer = f"<event>{entry.category}</event><range>{entry.start},{entry.end}</range>"
        row = {
            "id": f"ave_{vid}",
            "event": entry.category,
            "range": [entry.start, entry.end],
            "conversations": conversation(ave_prompt(), answer),
        }
        conv.add(row, {"video": lookups["video"].path(vid), "audio": lookups["audio"].path(vid)}, args.drop_missing)
    return conv


def convert_moka(args: argparse.Namespace) -> Conversion:
    items = read_json(args.input, list, "the official MokA list (train_samples_ave.json)")
    lookups = lookups_from_args(args, ave_format.LAYOUTS)
    conv = Conversion("ave_train", args.media_root, lookups, duplicates="number")
    conv.notes["format"] = "moka"
    for k, item in enumerate(records(conv, items, MOKA_FIELDS, f"{args.input} (--format moka)")):
        vid = item["vid"]
        if not isinstance(vid, str) or not vid:
            raise ConversionError(f"{args.input}: item {k}: 'vid' must be a video id string, got {vid!r}")
        label = read_label(Path(args.labels) / f"{vid}.txt", f"{args.input}: item {k} (vid {vid})", args.drop_missing)
        if label is None:
            conv.skip("missing_label")
            continue
        row = {
            "id": f"ave_{vid}",
            "event": item["event"],
            "range": [item["start_time"], item["end_time"]],
            "conversations": conversation(ave_prompt(), label),
        }
        media = {"video": lookups["video"].path(f"{vid}.mp4"), "audio": lookups["audio"].path(f"{vid}.mp3")}
        conv.add(row, media, args.drop_missing)  # the official names first (unified_dataset.py:102-103)
    return conv


def read_label(path: Path, where: str, drop_missing: bool) -> str | None:
    """The label text exactly as ``read_label`` reads it (text mode: universal newlines, nothing
    stripped); None for a missing file when ``drop_missing``, else an error naming it."""
    if not path.is_file():
        if drop_missing:
            return None
        raise ConversionError(
            f"{where}: label file {path} not found; --labels must be the official converted_label/ "
            "folder (or pass --drop-missing to leave such samples out, counted as missing_label)"
        )
    with path.open(encoding="utf-8") as fh:
        label = fh.read()
    if not label.strip():
        raise ConversionError(f"{where}: label file {path} is empty; there is no answer to train on")
    return label


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="tags",
        help="moka: the official train_samples_ave.json + converted_label/<vid>.txt targets (reasoning + "
        "tags; what the paper recipes train on); tags (default): the release's split file, bare tags",
    )
    parser.add_argument("--labels", type=Path, default=None, help="with --format moka: the converted_label/ folder")
    parser.add_argument(
        "--split-file",
        type=Path,
        default=None,
        help="with --input Annotations.txt: keep the lines that are also lines of this split file",
    )
    parser.add_argument("--exclude", type=Path, action="append", help="a split file (testSet.txt) kept out of training")


main = cli(convert, __doc__, ave_format.LAYOUT_HELP, add_flags)


if __name__ == "__main__":
    raise SystemExit(main())
