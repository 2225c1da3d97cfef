"""LibriSpeech → unified JSONL of speech instructions (speech-text stage 2).

    python data_prep/convert_librispeech_instruct.py --input $DATA_ROOT/speech/LibriSpeech/train-clean-100 \
        --media-root $DATA_ROOT/speech --out $DATA_ROOT/speech/librispeech_instruct.jsonl

Input: a LibriSpeech split folder (``<spk>/<chapter>/<spk>-<chapter>.trans.txt`` with lines
``<utt-id> TRANSCRIPT`` and ``<utt-id>.flac`` beside them). Each utterance becomes an ASR
instruction whose wording is drawn (seeded) from SALMONN-style ASR prompts; the transcript is
lower-cased (LibriSpeech is all caps). ``task`` records the prompt family.
"""

from __future__ import annotations

import random
from pathlib import Path

from train_common import Conversion, base_parser, conversation, report

SPEECH_LEAD_IN = "This is a speech:\n<speech>\n"
ASR_PROMPTS = (
    "Recognize the speech and give me the transcription.",
    "Repeat the speech and transcribe it.",
    "Transcribe the speech into text.",
    "Listen to the speech and write down its content.",
    "Please write down what is said in the audio.",
)


def utterances(split_dir: Path) -> list[tuple[str, Path, str]]:
    """(utterance id, flac path, transcript) in sorted order."""
    out = []
    for trans in sorted(Path(split_dir).rglob("*.trans.txt")):
        for line in trans.read_text().splitlines():
            if line.strip():
                utt, text = line.strip().split(" ", 1)
                out.append((utt, trans.parent / f"{utt}.flac", text))
    return out


def convert(split_dir: Path, media_root: Path, seed: int = 0, drop_missing: bool = False) -> Conversion:
    conv = Conversion("librispeech_instruct", media_root)
    rng = random.Random(seed)
    root = Path(media_root).resolve()
    for utt, flac, text in utterances(split_dir):
        rel = flac.resolve().relative_to(root).as_posix()  # the split folder lives under the media root
        instruction = rng.choice(ASR_PROMPTS)
        row = {"id": f"ls_{utt}", "task": "asr", "transcript": text.lower(),
               "conversations": conversation(SPEECH_LEAD_IN + instruction, text.lower())}
        conv.add(row, {"speech": rel}, drop_missing)
    return conv


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return report(convert(args.input, args.media_root, args.seed, args.drop_missing).write(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
