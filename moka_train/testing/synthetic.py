"""Synthetic multimodal data whose answers can only be known from the media.

    python data_prep/make_synthetic.py --out data/synthetic  # the CLI around this module
    --seed 0 --num-av 64 --num-image 64 --num-speech 64

Writes under ``--out`` (the ``data.root``):

* ``video/*.mp4``  H.264 clips (PyAV) of one coloured shape moving left→right or right→left
* ``audio/*.wav``  16 kHz mono tones, high (880 Hz) or low (220 Hz)
* ``speech/*.wav`` 16 kHz mono beep sequences (1-4 beeps): a speech stand-in with countable content
* ``image/*.png``  one coloured shape on the left or the right
* ``av_qa.jsonl``, ``image_qa.jsonl``, ``speech_qa.jsonl`` in the unified schema, prompts in the
  official form (``This is a video:\\n<video>\\n...Please answer this question: Q``); the truth
  is also kept as ``answer`` and the question family as ``task``.
* ``video_caption.jsonl``, ``audio_caption.jsonl``: stage-1 captions of the same clips, one
  modality each, as the official projector pretraining uses (video captions, AudioCaps):
  ``a red circle`` for a video, ``a high tone`` for its audio.

Answers are balanced over their choices, so a model that ignores the media stays at chance; the
``av_colour_tone`` question needs both the video (colour) and the audio (pitch). Everything is
deterministic from ``--seed``.
"""

from __future__ import annotations

import math
import random
import wave
from pathlib import Path

import numpy as np

from ..data.official_prompt import AV_LEAD_IN, question_prompt
from ..utils.jsonl import write_jsonl

SAMPLE_RATE = 16000
COLOURS = {"red": (230, 30, 30), "green": (30, 200, 60), "blue": (40, 70, 230), "yellow": (235, 220, 40)}
SHAPES = ("circle", "square")
TONES = {"high": 880.0, "low": 220.0}
AV_PROMPT = question_prompt(AV_LEAD_IN, "{q}")
IMAGE_PROMPT = "This is an image:\n<image>\nPlease answer this question: {q}"
SPEECH_PROMPT = "This is a speech:\n<speech>\nPlease answer this question: {q}"
VIDEO_CAPTION_PROMPT = "This is a video:\n<video>\nPlease answer this question: What do you see?"
AUDIO_CAPTION_PROMPT = "This is an audio:\n<audio>\nPlease answer this question: What do you hear?"


# --- media writers ----------------------------------------------------------------------------


def shape_mask(size: int, cx: float, cy: float, radius: float, shape: str) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    if shape == "circle":
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
    return (np.abs(xx - cx) <= radius) & (np.abs(yy - cy) <= radius)


def draw_frame(size: int, colour: str, shape: str, cx: float, cy: float, noise: np.ndarray) -> np.ndarray:
    frame = noise.copy()  # a faint fixed background texture so frames are not flat
    frame[shape_mask(size, cx, cy, size * 0.15, shape)] = COLOURS[colour]
    return frame


def moving_clip(
    rng: np.random.Generator, colour: str, shape: str, direction: str, frames: int, size: int
) -> np.ndarray:
    """uint8 [frames, size, size, 3]: the shape crosses the frame horizontally."""
    noise = rng.integers(0, 40, size=(size, size, 3), dtype=np.uint8)
    xs = np.linspace(size * 0.2, size * 0.8, frames)
    xs = xs if direction == "right" else xs[::-1]
    cy = size * rng.uniform(0.35, 0.65)
    return np.stack([draw_frame(size, colour, shape, x, cy, noise) for x in xs])


def write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    """H.264 in MP4 through PyAV (bundles its own FFmpeg; decord reads it back)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1], frames.shape[2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():  # flush
            container.mux(packet)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """16-bit PCM mono WAV with the standard library."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(sample_rate)
        fh.writeframes(pcm.tobytes())


def tone(freq: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return 0.5 * np.sin(2 * math.pi * freq * t) + 0.01 * rng.standard_normal(t.size)


def beeps(count: int, rng: np.random.Generator, seconds: float = 2.0) -> np.ndarray:
    """``count`` short 660 Hz beeps separated by silence."""
    out = 0.005 * rng.standard_normal(int(seconds * SAMPLE_RATE))
    slot = len(out) // 4
    beep = tone(660.0, 0.2, rng)
    for k in range(count):
        out[k * slot : k * slot + beep.size] += beep
    return out


# --- datasets ---------------------------------------------------------------------------------


def record(sample_id: str, media: dict[str, str], prompt: str, answer: str, task: str) -> dict:
    return {
        "id": sample_id,
        **media,
        "task": task,
        "answer": answer,
        "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}],
    }


def balanced(rng: random.Random, choices: list, n: int) -> list:
    """n picks cycling through every choice equally often, in a seeded order."""
    picks = [choices[i % len(choices)] for i in range(n)]
    rng.shuffle(picks)
    return picks


def make_av(
    out: Path, n: int, rng: random.Random, nrng: np.random.Generator, frames: int, size: int, fps: int, seconds: float
) -> dict[str, list[dict]]:
    """The AV QA rows and each clip's per-modality captions (they draw no extra randomness)."""
    combos = balanced(rng, [(c, t) for c in COLOURS for t in TONES], n)
    tasks = balanced(rng, ["colour", "tone", "av_colour_tone"], n)
    rows, video_captions, audio_captions = [], [], []
    for k, ((colour, pitch), task) in enumerate(zip(combos, tasks)):
        shape, direction = rng.choice(SHAPES), rng.choice(["left", "right"])
        write_mp4(out / f"video/av_{k:05d}.mp4", moving_clip(nrng, colour, shape, direction, frames, size), fps)
        write_wav(out / f"audio/av_{k:05d}.wav", tone(TONES[pitch], seconds, nrng))
        question, answer = {
            "colour": ("What colour is the moving shape?", colour),
            "tone": ("Is the tone high or low?", pitch),
            "av_colour_tone": ("What colour is the shape and is the tone high or low?", f"{colour} {pitch}"),
        }[task]
        media = {"video": f"video/av_{k:05d}.mp4", "audio": f"audio/av_{k:05d}.wav"}
        rows.append(record(f"av_{k:05d}", media, AV_PROMPT.format(q=question), answer, task))
        video_captions.append(
            record(
                f"vcap_{k:05d}", {"video": media["video"]}, VIDEO_CAPTION_PROMPT, f"a {colour} {shape}", "video_caption"
            )
        )
        audio_captions.append(
            record(f"acap_{k:05d}", {"audio": media["audio"]}, AUDIO_CAPTION_PROMPT, f"a {pitch} tone", "audio_caption")
        )
    return {"av_qa.jsonl": rows, "video_caption.jsonl": video_captions, "audio_caption.jsonl": audio_captions}


def make_image(out: Path, n: int, rng: random.Random, nrng: np.random.Generator, size: int) -> list[dict]:
    from PIL import Image

    combos = balanced(rng, [(c, s, side) for c in COLOURS for s in SHAPES for side in ("left", "right")], n)
    rows = []
    for k, (colour, shape, side) in enumerate(combos):
        noise = nrng.integers(0, 40, size=(size, size, 3), dtype=np.uint8)
        cx = size * (0.25 if side == "left" else 0.75)
        path = out / f"image/img_{k:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(draw_frame(size, colour, shape, cx, size / 2, noise)).save(path)
        question, answer = [
            ("What colour is the shape?", colour),
            ("Is the shape a circle or a square?", shape),
            ("Is the shape on the left or on the right?", side),
        ][k % 3]
        rows.append(
            record(
                f"img_{k:05d}", {"image": f"image/img_{k:05d}.png"}, IMAGE_PROMPT.format(q=question), answer, "image"
            )
        )
    return rows


def make_speech(out: Path, n: int, rng: random.Random, nrng: np.random.Generator) -> list[dict]:
    words = {1: "one", 2: "two", 3: "three", 4: "four"}
    rows = []
    for k, count in enumerate(balanced(rng, list(words), n)):
        write_wav(out / f"speech/sp_{k:05d}.wav", beeps(count, nrng))
        rows.append(
            record(
                f"sp_{k:05d}",
                {"speech": f"speech/sp_{k:05d}.wav"},
                SPEECH_PROMPT.format(q="How many beeps do you hear?"),
                words[count],
                "speech_count",
            )
        )
    return rows


def make_synthetic(
    out: Path,
    seed: int = 0,
    num_av: int = 16,
    num_image: int = 16,
    num_speech: int = 16,
    frames: int = 30,
    size: int = 64,
    fps: int = 10,
    audio_seconds: float = 1.0,
) -> dict[str, int]:
    """Write every set under ``out``; returns the sample count of each file."""
    if size % 2:
        raise ValueError(f"--size must be even for H.264 (yuv420p), got {size}")
    out.mkdir(parents=True, exist_ok=True)
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    sets = {
        **make_av(out, num_av, rng, nrng, frames, size, fps, audio_seconds),
        "image_qa.jsonl": make_image(out, num_image, rng, nrng, size),
        "speech_qa.jsonl": make_speech(out, num_speech, rng, nrng),
    }
    for name, rows in sets.items():
        write_jsonl(out / name, rows)
    return {name: len(rows) for name, rows in sets.items()}
