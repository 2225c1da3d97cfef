"""LibriSpeech → unified JSONL of speech instructions (speech-text stage 2).

    python data_prep/convert_librispeech_instruct.py --input $DATA_ROOT/speech/LibriSpeech/train-clean-100 \
        --media-root $DATA_ROOT/speech --output $DATA_ROOT/speech/librispeech_instruct.jsonl

Format: ``librispeech_format``; --input must lie under the media root. Each utterance becomes an
ASR instruction whose wording is drawn (seeded) from SALMONN-style ASR prompts; the transcript is
lower-cased (LibriSpeech is all caps). ``task`` records the prompt family.
"""

from __future__ import annotations

import argparse
import random

from common import Conversion, cli, conversation, relative_to_root
from librispeech_format import utterances

from moka_train.eval.protocol import SPEECH_LEAD_IN

ASR_PROMPTS = (
    "Recognize the speech and give me the transcription.",
    "Repeat the speech and transcribe it.",
    "Transcribe the speech into text.",
    "Listen to the speech and write down its content.",
    "Please write down what is said in the audio.",
)


def convert(args: argparse.Namespace) -> Conversion:
    relative_to_root(args.input, args.media_root)  # refuse early, naming both folders
    conv = Conversion("librispeech_instruct", args.media_root)
    rng = random.Random(args.seed)
    for utt, flac, text in utterances(args.input):
        conv.read += 1
        row = {
            "id": f"ls_{utt}",
            "task": "asr",
            "transcript": text.lower(),
            "conversations": conversation(SPEECH_LEAD_IN + rng.choice(ASR_PROMPTS), text.lower()),
        }
        conv.add(row, {"speech": relative_to_root(flac, args.media_root)}, args.drop_missing)
    return conv


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0)


main = cli(convert, __doc__, None, add_flags)


if __name__ == "__main__":
    raise SystemExit(main())
