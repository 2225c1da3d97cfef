"""LibriSpeech test-clean / test-other transcripts → ASR evaluation rows (scored by ``asr_wer``).

    python data_prep/convert_librispeech.py --input LibriSpeech/test-clean --output eval/librispeech_test_clean.jsonl \
        --media-root DATA

Walks ``<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` (one ``UTTERANCE-ID TRANSCRIPT`` per
line) under --input, which must lie under the media root; the clip is ``<UTTERANCE-ID>.flac``
beside the transcript. The split (``test-clean``...) is the nearest ``test-*``/``dev-*`` folder.
"""

from __future__ import annotations

from pathlib import Path

from common import SPEECH_LEAD_IN, base_parser, finish, human_turn, relative_to_root

PROMPT = "Recognize the speech and give me the transcription."  # SALMONN's ASR instruction


def split_of(path: Path) -> str:
    return next((p for p in reversed(path.parts) if p.startswith(("test-", "dev-", "train-"))), "?")


def convert(input_dir: Path, media_root: Path) -> list[dict]:
    rows = []
    for trans in sorted(input_dir.rglob("*.trans.txt")):
        for lineno, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            utt, _, text = line.strip().partition(" ")
            if not text:
                raise ValueError(f"{trans}:{lineno}: expected 'UTTERANCE-ID TRANSCRIPT', got {line!r}")
            rows.append({"id": utt, "speech": relative_to_root(trans.parent / f"{utt}.flac", media_root),
                         "conversations": human_turn(SPEECH_LEAD_IN + PROMPT), "question": PROMPT,
                         "answer": text, "split": split_of(trans)})
    return rows


def main(argv: list[str] | None = None) -> dict:
    args = base_parser(__doc__.splitlines()[0]).parse_args(argv)
    return finish(convert(args.input, args.media_root), args, "librispeech")


if __name__ == "__main__":
    main()
