"""LibriSpeech test-clean / test-other transcripts → ASR evaluation rows (scored by ``asr_wer``).

    python data_prep/convert_librispeech.py --input LibriSpeech/test-clean --output eval/librispeech_test_clean.jsonl \
        --media-root DATA

Format: ``librispeech_format``; --input must lie under the media root (clip paths are written
relative to it). The split (``test-clean``...) is the nearest ``test-*``/``dev-*`` folder.
"""

from __future__ import annotations

import argparse

from common import Conversion, cli, conversation, relative_to_root
from librispeech_format import split_of, utterances

from moka_train.eval.protocol import ASR_INSTRUCTION, asr_prompt


def convert(args: argparse.Namespace) -> Conversion:
    relative_to_root(args.input, args.media_root)  # refuse early, naming both folders
    conv = Conversion("librispeech", args.media_root)
    for utt, flac, text in utterances(args.input):
        conv.read += 1
        row = {
            "id": utt,
            "conversations": conversation(asr_prompt()),
            "question": ASR_INSTRUCTION,
            "answer": text,
            "split": split_of(flac),
        }
        conv.add(row, {"speech": relative_to_root(flac, args.media_root)}, args.drop_missing)
    return conv


main = cli(convert, __doc__)

if __name__ == "__main__":
    raise SystemExit(main())
