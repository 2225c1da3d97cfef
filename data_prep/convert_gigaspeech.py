"""GigaSpeech (ASR, speech projector pretraining) → unified JSONL.

    python data_prep/convert_gigaspeech.py --input GigaSpeech.json --subset M --media-root $DATA_ROOT/pretrain \
        --segment-dir gigaspeech/segments --out $DATA_ROOT/pretrain/gigaspeech_m.jsonl

Input: the official metadata ``GigaSpeech.json`` (``{"audios": [{"aid", "segments": [{"sid",
"begin_time", "end_time", "text_tn", "subsets"}]}]}``). Our schema names one file per sample, so
segments are expected pre-cut as ``<segment-dir>/<sid>.wav`` (missing ones are reported). Only
segments of ``--subset`` are kept; segments whose text is only garbage tags (``<SIL>``,
``<MUSIC>``, ``<NOISE>``, ``<OTHER>``) are skipped; punctuation tags become punctuation and the
text is lower-cased.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from train_common import Conversion, base_parser, conversation, report

PUNCTUATION = {"<COMMA>": ",", "<PERIOD>": ".", "<QUESTIONMARK>": "?", "<EXCLAMATIONPOINT>": "!"}
GARBAGE = ("<SIL>", "<MUSIC>", "<NOISE>", "<OTHER>")
PROMPT = "This is a speech:\n<speech>\nRecognize the speech and give me the transcription."


def normalise(text_tn: str) -> str:
    for tag, mark in PUNCTUATION.items():
        text_tn = text_tn.replace(f" {tag}", mark).replace(tag, mark)
    return re.sub(r"\s+", " ", text_tn).strip().lower()


def convert(metadata: Path, media_root: Path, subset: str = "M", segment_dir: str = "segments",
            drop_missing: bool = False) -> Conversion:
    conv = Conversion(f"gigaspeech_{subset}", media_root)
    for audio in json.loads(Path(metadata).read_text())["audios"]:
        for seg in audio["segments"]:
            if f"{{{subset}}}" not in seg.get("subsets", []):
                continue
            if any(tag in seg["text_tn"] for tag in GARBAGE):
                conv.skip("garbage_utterance")
                continue
            text = normalise(seg["text_tn"])
            row = {"id": f"gs_{seg['sid']}", "task": "asr", "transcript": text,
                   "conversations": conversation(PROMPT, text)}
            conv.add(row, {"speech": f"{segment_dir.rstrip('/')}/{seg['sid']}.wav"}, drop_missing)
    return conv


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--subset", default="M", help="XS, S, M, L or XL")
    parser.add_argument("--segment-dir", default="segments")
    args = parser.parse_args(argv)
    return report(convert(args.input, args.media_root, args.subset, args.segment_dir, args.drop_missing).write(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
