"""GigaSpeech (ASR, speech projector pretraining) → unified JSONL.

    python data_prep/convert_gigaspeech.py --input GigaSpeech.json --subset M --media-root $DATA_ROOT/pretrain \
        --speech-dir gigaspeech/audio --output $DATA_ROOT/pretrain/gigaspeech_m.jsonl

Input: the official metadata ``GigaSpeech.json`` (SpeechColab/GigaSpeech: ``{"audios": [{"aid",
"segments": [{"sid", "begin_time", "end_time", "text_tn", "subsets": ["{XL}", "{M}", ...]}]}]}``).
Our schema names one file per sample, so segments are expected pre-cut: nested as the official
segment extraction writes them, ``<speech-dir>/<aid>/<sid>.wav``, or flat, ``<speech-dir>/<sid>.wav``
(missing ones are reported). ``--subset`` is case-insensitive (``m`` = ``{M}``); segments outside
it are counted as ``not_in_subset``; segments whose text holds a garbage tag (``<SIL>``, ``<MUSIC>``,
``<NOISE>``, ``<OTHER>``) as ``garbage_utterance``. Punctuation tags become punctuation and the text
is lower-cased.
"""

from __future__ import annotations

import argparse
import re

from common import Conversion, ConversionError, cli, conversation, lookups_from_args, read_json, require_keys

from moka_train.eval.protocol import asr_prompt

SUBSETS = ("XS", "S", "M", "L", "XL", "DEV", "TEST")
PUNCTUATION = {"<COMMA>": ",", "<PERIOD>": ".", "<QUESTIONMARK>": "?", "<EXCLAMATIONPOINT>": "!"}
GARBAGE = ("<SIL>", "<MUSIC>", "<NOISE>", "<OTHER>")
LAYOUTS = {"speech": ("audio", "segments", "")}


def normalise(text_tn: str) -> str:
    for tag, mark in PUNCTUATION.items():
        text_tn = text_tn.replace(f" {tag}", mark).replace(tag, mark)
    return re.sub(r"\s+", " ", text_tn).strip().lower()


def in_subset(segment: dict, subset: str) -> bool:
    return any(str(s).strip("{}").upper() == subset for s in segment.get("subsets", []))


def convert(args: argparse.Namespace) -> Conversion:
    subset = args.subset.upper()
    if subset not in SUBSETS:
        raise ConversionError(f"--subset {args.subset!r}: choose from {', '.join(SUBSETS)} (any case)")
    meta = read_json(args.input, dict, 'GigaSpeech.json: {"audios": [...]}')
    lookups = lookups_from_args(args, LAYOUTS)
    conv = Conversion(f"gigaspeech_{subset}", args.media_root, lookups)
    for a, audio in enumerate(meta.get("audios") or []):
        require_keys(audio, ("aid", "segments"), f"{args.input}: audios[{a}]")
        for s, seg in enumerate(audio["segments"]):
            conv.read += 1
            require_keys(seg, ("sid", "text_tn"), f"{args.input}: audios[{a}].segments[{s}]")
            if not in_subset(seg, subset):
                conv.skip("not_in_subset")
            elif any(tag in seg["text_tn"] for tag in GARBAGE):
                conv.skip("garbage_utterance")
            else:
                text = normalise(seg["text_tn"])
                row = {
                    "id": f"gs_{seg['sid']}",
                    "task": "asr",
                    "transcript": text,
                    "conversations": conversation(asr_prompt(), text),
                }
                clip = lookups["speech"].path(f"{audio['aid']}/{seg['sid']}", seg["sid"])
                conv.add(row, {"speech": clip}, args.drop_missing)
    if conv.read == 0:
        raise ConversionError(f"{args.input}: no 'audios' with segments (keys {sorted(meta)[:8]})")
    return conv


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subset", default="M", help=f"one of {', '.join(SUBSETS)} (any case)")


main = cli(convert, __doc__, {"speech": "audio, segments, the root"}, add_flags)


if __name__ == "__main__":
    raise SystemExit(main())
