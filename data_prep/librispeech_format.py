"""LibriSpeech split folders (openslr.org/12): ``<speaker>/<chapter>/<speaker>-<chapter>.trans.txt``
with one ``UTTERANCE-ID TRANSCRIPT`` a line and ``<UTTERANCE-ID>.flac`` beside it; read once for
the ASR evaluation and the speech-instruction converters."""

from __future__ import annotations

from pathlib import Path

from common import ConversionError


def utterances(split_dir: Path) -> list[tuple[str, Path, str]]:
    """(utterance id, flac path, transcript) in sorted order; a malformed line is an error."""
    if not Path(split_dir).is_dir():
        raise ConversionError(f"{split_dir}: expected a LibriSpeech split folder (e.g. LibriSpeech/test-clean)")
    out = []
    for trans in sorted(Path(split_dir).rglob("*.trans.txt")):
        for lineno, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            utt, _, text = line.strip().partition(" ")
            if not text:
                raise ConversionError(f"{trans}:{lineno}: expected 'UTTERANCE-ID TRANSCRIPT', got {line!r}")
            out.append((utt, trans.parent / f"{utt}.flac", text))
    if not out:
        raise ConversionError(f"{split_dir}: no *.trans.txt transcripts below it")
    return out


def split_of(path: Path) -> str:
    return next((p for p in reversed(Path(path).parts) if p.startswith(("test-", "dev-", "train-"))), "?")
