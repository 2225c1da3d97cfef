"""Stage-1 caption sets → unified JSONL: Video-LLaVA image/video captions and AudioCaps.

    python data_prep/convert_captions.py --format video-llava --input llava_image_.json \
        --media-root $DATA_ROOT/pretrain --output $DATA_ROOT/pretrain/image_captions.jsonl
    python data_prep/convert_captions.py --format video-llava --input valid_valley_.json \
        --media-root $DATA_ROOT/pretrain --output $DATA_ROOT/pretrain/video_captions.jsonl
    python data_prep/convert_captions.py --format audiocaps --input audiocaps/dataset/train.csv \
        --extra-input audiocaps/dataset/val.csv --media-root $DATA_ROOT/pretrain --audio-dir audiocaps/audio \
        --output $DATA_ROOT/pretrain/audiocaps.jsonl

``video-llava``: the pretraining JSON list ``{"id", "image"|"video", "conversations"}``
(PKU-YuanGroup/Video-LLaVA); the caption is the first answer; ``--image-dir``/``--video-dir``
(or the older ``--media-prefix``) is prepended to the media path. ``audiocaps``: the official CSV
(cdjkim/audiocaps ``dataset/train.csv``, ``val.csv``: ``audiocap_id,youtube_id,start_time,caption``);
clips are ``<audio-dir>/<youtube_id>_<start_time>`` with any audio extension (``--audio-pattern``
changes the name). Any other input for a format (a JSON list given as ``audiocaps``, a CSV as
``video-llava``) is refused. ``--extra-input`` adds more files of the same format to the same output
(the official stage 1 reads AudioCaps train + val). The image and video captions go to two files:
configs/pretrain_*.yaml trains the one visual projector on the images (1 frame each), then on the
videos (8 frames).

Prompts and targets are the official stage-1 ones (GeWu-Lab/MokA AudioVisualText/dataset/
pretrain_dataset.py 69-198), rendered through the chat template with the system prompt:
``This is an image:\n<image>\nPlease answer the question:\n{q}`` (video likewise; q = the
annotation's question without its placeholder and newlines) with the caption, a final ``.`` added
where it ends without ``.``/``!``/``?``; ``This is an audio:\n<audio>\nPlease describe this audio.``
with the AudioCaps caption as it is. The official target is ``caption + '<|eot_id|>'`` as text
(for LLaMA-2 a string of ordinary tokens, no ``</s>``); here it is the caption followed by the
template's own end of turn (LLaMA-2: `` </s>``), as in fine-tuning.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from common import Conversion, ConversionError, cli, conversation, lookups_from_args, read_json

from moka_train.data.official_prompt import media_lead_in

AUDIO_PROMPT = "This is an audio:\n<audio>\nPlease describe this audio."  # pretrain_dataset.py 149, 171


def visual_prompt(kind: str, human: str) -> str:
    """The official image/video caption prompt (pretrain_dataset.py 78-80, 109-111)."""
    question = human.replace(f"<{kind}>", "").replace("\n", "")
    return f"{media_lead_in(kind, f'<{kind}>')}Please answer the question:\n{question}"


def visual_caption(text: str) -> str:
    """The caption with a final full stop where it has no end mark (pretrain_dataset.py 82-83)."""
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


AUDIOCAPS_COLUMNS = ("audiocap_id", "youtube_id", "start_time", "caption")


def convert_video_llava(args: argparse.Namespace) -> Conversion:
    layouts = {kind: (args.media_prefix,) for kind in ("image", "video")}
    lookups = lookups_from_args(args, layouts)
    conv = Conversion("video_llava_captions", args.media_root, lookups, duplicates="number")
    for path in inputs(args):
        records = read_json(path, list, 'a Video-LLaVA list of {"id", "image"|"video", "conversations"}')
        for k, rec in enumerate(records):
            conv.read += 1
            if not isinstance(rec, dict) or "conversations" not in rec or "id" not in rec:
                raise ConversionError(f"{path}: item {k} is not a Video-LLaVA record (needs id, conversations)")
            kind = "video" if rec.get("video") else "image" if rec.get("image") else None
            turns = rec["conversations"]
            humans = [t["value"] for t in turns if t.get("from") == "human"]
            answers = [t["value"] for t in turns if t.get("from") == "gpt"]
            if kind is None or not answers:
                conv.skip("no_media" if kind is None else "no_caption")
                continue
            row = {
                "id": f"vl_{rec['id']}",
                "conversations": conversation(
                    visual_prompt(kind, humans[0] if humans else ""), visual_caption(answers[0])
                ),
            }
            conv.add(row, {kind: lookups[kind].path(rec[kind])}, args.drop_missing)
    return conv


def inputs(args: argparse.Namespace) -> list:
    """--input, then every --extra-input, converted into one output."""
    return [args.input, *args.extra_input]


def convert_audiocaps(args: argparse.Namespace) -> Conversion:
    lookups = lookups_from_args(args, {"audio": ("audio", "audiocaps/audio", "data")})
    conv = Conversion("audiocaps", args.media_root, lookups)
    for path in inputs(args):
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if not set(AUDIOCAPS_COLUMNS) <= set(reader.fieldnames or ()):
                raise ConversionError(
                    f"{path}: not an AudioCaps CSV: header {(reader.fieldnames or [''])[:4]}, "
                    f"expected {','.join(AUDIOCAPS_COLUMNS)} (a JSON caption list is not this format)"
                )
            for rec in reader:
                conv.read += 1
                row = {"id": f"ac_{rec['audiocap_id']}", "conversations": conversation(AUDIO_PROMPT, rec["caption"])}
                conv.add(row, {"audio": lookups["audio"].path(args.audio_pattern.format(**rec))}, args.drop_missing)
    return conv


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["video-llava", "audiocaps"], required=True)
    parser.add_argument("--media-prefix", default="", help="video-llava: folder prepended to image and video paths")
    parser.add_argument("--audio-pattern", default="{youtube_id}_{start_time}", help="audiocaps: clip name")
    parser.add_argument(
        "--extra-input",
        type=Path,
        nargs="*",
        default=[],
        help="more files of the same format into the same output (AudioCaps val.csv; the video captions)",
    )


def convert(args: argparse.Namespace) -> Conversion:
    return convert_video_llava(args) if args.format == "video-llava" else convert_audiocaps(args)


FOLDER_HELP = {"image": "--media-prefix", "video": "--media-prefix", "audio": "audio, audiocaps/audio, data"}
main = cli(convert, __doc__, FOLDER_HELP, add_flags)


if __name__ == "__main__":
    raise SystemExit(main())
