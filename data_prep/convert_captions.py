"""Stage-1 caption sets → unified JSONL: Video-LLaVA image/video captions and AudioCaps.

    python data_prep/convert_captions.py --format video-llava --input valley_llavaimage.json \
        --media-root $DATA_ROOT/pretrain --output $DATA_ROOT/pretrain/video_llava_captions.jsonl
    python data_prep/convert_captions.py --format audiocaps --input audiocaps/dataset/train.csv \
        --media-root $DATA_ROOT/pretrain --audio-dir audiocaps/audio --output $DATA_ROOT/pretrain/audiocaps.jsonl

``video-llava``: the pretraining JSON list ``{"id", "image"|"video", "conversations"}``
(PKU-YuanGroup/Video-LLaVA); the caption is the first answer; ``--image-dir``/``--video-dir``
(or the older ``--media-prefix``) is prepended to the media path. ``audiocaps``: the official CSV
(cdjkim/audiocaps ``dataset/train.csv``: ``audiocap_id,youtube_id,start_time,caption``); clips
are ``<audio-dir>/<youtube_id>_<start_time>`` with any audio extension (``--audio-pattern``
changes the name). Any other input for a format (a JSON list given as ``audiocaps``, a CSV as
``video-llava``) is refused. The user turn is a placeholder plus a short instruction: the
``plain`` template keeps only the placeholder, a chat template keeps both.
"""

from __future__ import annotations

import argparse
import csv

from common import Conversion, ConversionError, cli, conversation, lookups_from_args, read_json

INSTRUCTION = {
    "image": "Describe the image briefly.",
    "video": "Describe the video briefly.",
    "audio": "Describe the audio briefly.",
}
AUDIOCAPS_COLUMNS = ("audiocap_id", "youtube_id", "start_time", "caption")


def convert_video_llava(args: argparse.Namespace) -> Conversion:
    records = read_json(args.input, list, 'a Video-LLaVA list of {"id", "image"|"video", "conversations"}')
    layouts = {kind: (args.media_prefix,) for kind in ("image", "video")}
    lookups = lookups_from_args(args, layouts)
    conv = Conversion("video_llava_captions", args.media_root, lookups, duplicates="number")
    for k, rec in enumerate(records):
        conv.read += 1
        if not isinstance(rec, dict) or "conversations" not in rec or "id" not in rec:
            raise ConversionError(f"{args.input}: item {k} is not a Video-LLaVA record (needs id, conversations)")
        kind = "video" if rec.get("video") else "image" if rec.get("image") else None
        answers = [t["value"] for t in rec["conversations"] if t.get("from") == "gpt"]
        if kind is None or not answers:
            conv.skip("no_media" if kind is None else "no_caption")
            continue
        row = {
            "id": f"vl_{rec['id']}",
            "conversations": conversation(f"<{kind}>\n{INSTRUCTION[kind]}", answers[0].strip()),
        }
        conv.add(row, {kind: lookups[kind].path(rec[kind])}, args.drop_missing)
    return conv


def convert_audiocaps(args: argparse.Namespace) -> Conversion:
    lookups = lookups_from_args(args, {"audio": ("audio", "audiocaps/audio", "data")})
    conv = Conversion("audiocaps", args.media_root, lookups)
    with args.input.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if not set(AUDIOCAPS_COLUMNS) <= set(reader.fieldnames or ()):
            raise ConversionError(
                f"{args.input}: not an AudioCaps CSV: header {(reader.fieldnames or [''])[:4]}, "
                f"expected {','.join(AUDIOCAPS_COLUMNS)} (a JSON caption list is not this format)"
            )
        for rec in reader:
            conv.read += 1
            row = {
                "id": f"ac_{rec['audiocap_id']}",
                "conversations": conversation(f"<audio>\n{INSTRUCTION['audio']}", rec["caption"].strip()),
            }
            conv.add(row, {"audio": lookups["audio"].path(args.audio_pattern.format(**rec))}, args.drop_missing)
    return conv


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["video-llava", "audiocaps"], required=True)
    parser.add_argument("--media-prefix", default="", help="video-llava: folder prepended to image and video paths")
    parser.add_argument("--audio-pattern", default="{youtube_id}_{start_time}", help="audiocaps: clip name")


def convert(args: argparse.Namespace) -> Conversion:
    return convert_video_llava(args) if args.format == "video-llava" else convert_audiocaps(args)


FOLDER_HELP = {"image": "--media-prefix", "video": "--media-prefix", "audio": "audio, audiocaps/audio, data"}
main = cli(convert, __doc__, FOLDER_HELP, add_flags)


if __name__ == "__main__":
    raise SystemExit(main())
