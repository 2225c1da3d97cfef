"""Stage-1 caption sets → unified JSONL: Video-LLaVA image/video captions and AudioCaps.

    python data_prep/convert_captions.py --format video-llava --input valley_llavaimage.json \
        --media-root $DATA_ROOT/pretrain --out $DATA_ROOT/pretrain/video_llava_captions.jsonl
    python data_prep/convert_captions.py --format audiocaps --input audiocaps/train.csv \
        --media-root $DATA_ROOT/pretrain --audio-dir audiocaps/audio --out $DATA_ROOT/pretrain/audiocaps.jsonl

``video-llava``: the pretraining JSON list ``{"id", "image"|"video", "conversations"}``; the
caption is the first answer, the media path gets ``--media-prefix``. ``audiocaps``: the official
CSV ``audiocap_id,youtube_id,start_time,caption``; clips are ``<audio-dir>/<youtube_id>_<start>.wav``
(``--audio-pattern`` changes this). The user turn is a placeholder plus a short instruction:
the ``plain`` template keeps only the placeholder, a chat template keeps both.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from train_common import Conversion, base_parser, conversation, report

INSTRUCTION = {"image": "Describe the image briefly.", "video": "Describe the video briefly.",
               "audio": "Describe the audio briefly."}


def convert_video_llava(input_file: Path, media_root: Path, media_prefix: str = "", drop_missing: bool = False) -> Conversion:
    conv = Conversion("video_llava_captions", media_root)
    for rec in json.loads(Path(input_file).read_text()):
        kind = "video" if rec.get("video") else "image" if rec.get("image") else None
        answers = [t["value"] for t in rec.get("conversations", []) if t.get("from") == "gpt"]
        if kind is None or not answers:
            conv.skip("no_media" if kind is None else "no_caption")
            continue
        path = f"{media_prefix.rstrip('/')}/{rec[kind]}" if media_prefix else rec[kind]
        row = {"id": f"vl_{rec['id']}",
               "conversations": conversation(f"<{kind}>\n{INSTRUCTION[kind]}", answers[0].strip())}
        conv.add(row, {kind: path}, drop_missing)
    return conv


def convert_audiocaps(input_file: Path, media_root: Path, audio_dir: str = "audio",
                      pattern: str = "{youtube_id}_{start_time}.wav", drop_missing: bool = False) -> Conversion:
    conv = Conversion("audiocaps", media_root)
    with Path(input_file).open(newline="") as fh:
        for rec in csv.DictReader(fh):
            rel = f"{audio_dir.rstrip('/')}/{pattern.format(**rec)}"
            row = {"id": f"ac_{rec['audiocap_id']}",
                   "conversations": conversation(f"<audio>\n{INSTRUCTION['audio']}", rec["caption"].strip())}
            conv.add(row, {"audio": rel}, drop_missing)
    return conv


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--format", choices=["video-llava", "audiocaps"], required=True)
    parser.add_argument("--media-prefix", default="", help="video-llava: folder prepended to media paths")
    parser.add_argument("--audio-dir", default="audio", help="audiocaps: folder of the clips")
    parser.add_argument("--audio-pattern", default="{youtube_id}_{start_time}.wav")
    args = parser.parse_args(argv)
    if args.format == "video-llava":
        conv = convert_video_llava(args.input, args.media_root, args.media_prefix, args.drop_missing)
    else:
        conv = convert_audiocaps(args.input, args.media_root, args.audio_dir, args.audio_pattern, args.drop_missing)
    return report(conv.write(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
