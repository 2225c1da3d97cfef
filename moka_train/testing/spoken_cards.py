"""Spoken cards and digits: a speech task for real Whisper + a real LLM that is learnable on CPU.

Each clip says one to three playing cards ("seven of hearts queen of spades") or a string of two
to five digits ("two nine three four zero"); the answer is the transcript, scored by WER
(``asr_wer``), so it needs the audio and every word is checkable. Why this task: its 27-word
vocabulary is the one of the real human recordings Debian ships (pocketsphinx-testdata: card
names, TIDIGITS digits), so a model trained only on synthetic speech can be held out on real
voices; and a small vocabulary is what a frozen encoder + projector + adapters can learn in a few
hundred CPU steps.

Training speech is synthesised with espeak-ng over several voices, speeds and pitches; one
held-out set uses voices never heard in training (other accents and voice variants), the other
the real recordings. Everything is written in the unified JSONL schema under one data root; the
instruction is the caller's (the demo passes the ``asr_wer`` protocol's, ``eval.protocol.asr_prompt``,
which this side of the package may not import).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

RANKS = ("ace", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "jack", "queen", "king")
SUITS = ("clubs", "diamonds", "hearts", "spades")
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# espeak-ng voice = accent + variant; held-out voices share neither accent nor variant with training
TRAIN_VOICES = ("en-us+m1", "en-us+f2", "en-gb+m3", "en-gb+f3", "en-gb-scotland+m2", "en-gb-x-rp+f1", "en-us-nyc+m4")
HELDOUT_VOICES = ("en-029+m7", "en-gb-x-gbcwmd+f5", "en-gb-x-gbclan+f4")
SPEEDS, PITCHES = (130, 190), (25, 75)  # words per minute, espeak pitch 0-99
TIDIGITS = {"o": "oh", "z": "zero", **{str(d): DIGITS[d] for d in range(10)}}
PCM_RATE = 16000  # the pocketsphinx .raw files: 16 kHz signed 16-bit little-endian mono


def phrase(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return " ".join(f"{rng.choice(RANKS)} of {rng.choice(SUITS)}" for _ in range(rng.randint(1, 3)))
    return " ".join(rng.choice(DIGITS) for _ in range(rng.randint(2, 5)))


def synthesise(text: str, voice: str, speed: int, pitch: int, wav: Path) -> None:
    """espeak-ng writes a 22.05 kHz WAV (the data pipeline resamples WAV to 16 kHz on load)."""
    if shutil.which("espeak-ng") is None:
        raise FileNotFoundError("espeak-ng is not installed: `make real-weights` installs it as root (README)")
    wav.parent.mkdir(parents=True, exist_ok=True)
    command = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text]
    subprocess.run(command, check=True, capture_output=True)


def synthetic_rows(root: Path, folder: str, voices: tuple[str, ...], count: int, seed: int) -> list[dict]:
    """``count`` clips, voices in turn, random phrase/speed/pitch; rows hold the transcript."""
    rng = random.Random(seed)
    rows = []
    for k in range(count):
        text, voice = phrase(rng), voices[k % len(voices)]
        speed, pitch = rng.randint(*SPEEDS), rng.randint(*PITCHES)
        rel = f"{folder}/{k:05d}.wav"
        synthesise(text, voice, speed, pitch, root / rel)
        rows.append({"id": f"{folder}-{k:05d}", "speech": rel, "text": text, "voice": voice})
    return rows


def read_cards_transcription(path: Path) -> dict[str, str]:
    """``<s> ten of clubs  </s> (001)`` lines -> {"001": "ten of clubs"}."""
    out = {}
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        body, _, tail = line.rpartition("(")
        words = body.replace("<s>", " ").replace("</s>", " ").split()
        if not tail.endswith(")") or not words:
            raise ValueError(f"{path}:{lineno}: expected '<s> words </s> (id)', got {line!r}")
        out[tail[:-1]] = " ".join(words)
    return out


def write_pcm_wav(raw: Path, wav: Path) -> None:
    wav.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(wav), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(PCM_RATE)
        fh.writeframes(raw.read_bytes())


def real_rows(root: Path, pocketsphinx: Path) -> list[dict]:
    """The real human recordings in the task's vocabulary: the five card clips and the TIDIGITS
    clip (its name spells the digits; z = zero, o = oh)."""
    cards = pocketsphinx / "cards"
    if not cards.is_dir():
        raise FileNotFoundError(f"{cards}: pocketsphinx-testdata is not installed (`make real-weights` as root)")
    rows = []
    for clip, text in sorted(read_cards_transcription(cards / "cards.transcription").items()):
        rel = f"real/cards_{clip}.wav"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cards / f"{clip}.wav", root / rel)
        rows.append({"id": f"real-cards-{clip}", "speech": rel, "text": text, "voice": "human"})
    for raw in sorted((pocketsphinx / "tidigits").glob("*.raw")):
        digits = raw.stem.split(".")[-1]
        rel = f"real/tidigits_{digits}.wav"
        write_pcm_wav(raw, root / rel)
        rows.append({"id": f"real-tidigits-{digits}", "speech": rel, "text": " ".join(TIDIGITS[c] for c in digits)})
    return rows


@dataclass(frozen=True)
class Instruction:
    prompt: str  # the whole user turn, with one <speech> placeholder
    question: str  # the instruction alone (eval rows keep it as ``question``)


def training_record(row: dict, instruction: Instruction | None) -> dict:
    """Stage 1 (``instruction`` None, plain template): the speech, then its transcript.
    Stage 2 (chat): the instruction's prompt, then the transcript."""
    prompt = "<speech>" if instruction is None else instruction.prompt
    turns = [{"from": "human", "value": prompt}, {"from": "gpt", "value": row["text"]}]
    return {"id": row["id"], "speech": row["speech"], "conversations": turns}


def eval_record(row: dict, split: str, instruction: Instruction) -> dict:
    """An ``asr_wer`` evaluation row: the prompt only; the truth in ``answer``, the set in ``split``."""
    turns = [{"from": "human", "value": instruction.prompt}]
    return {
        "id": row["id"],
        "speech": row["speech"],
        "conversations": turns,
        "question": instruction.question,
        "answer": row["text"],
        "split": split,
    }


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def build_spoken_cards(
    root: str | Path, pocketsphinx: str | Path, instruction: Instruction, train: int, heldout: int, seed: int = 0
) -> dict:
    """Writes the clips and ``pretrain.jsonl`` (plain), ``train.jsonl`` (chat), ``heldout.jsonl``
    (splits ``unseen_voices`` and ``real``) under ``root``; returns the files and counts."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    train_rows = synthetic_rows(root, "train", TRAIN_VOICES, train, seed)
    unseen = synthetic_rows(root, "unseen", HELDOUT_VOICES, heldout, seed + 1000)
    real = real_rows(root, Path(pocketsphinx))
    files = {
        "pretrain": write_jsonl(root / "pretrain.jsonl", [training_record(r, None) for r in train_rows]),
        "train": write_jsonl(root / "train.jsonl", [training_record(r, instruction) for r in train_rows]),
        "heldout": write_jsonl(
            root / "heldout.jsonl",
            [eval_record(r, "unseen_voices", instruction) for r in unseen]
            + [eval_record(r, "real", instruction) for r in real],
        ),
    }
    return {"files": files, "train": len(train_rows), "unseen_voices": len(unseen), "real": len(real)}
