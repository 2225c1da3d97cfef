"""A complete tiny workspace on disk: tokenizer + LLaMA, CLIP, BEATs, synthetic AV data.

Everything is written in each library's own format and later loaded through the real loading
code, exactly as a user's checkpoints would be. Used by `make demo` and the end-to-end tests.
"""

from __future__ import annotations

from pathlib import Path

from .encoders import BASE_BEATS_CFG, BASE_HF_CLIP_SHAPE, make_tiny_beats, make_tiny_hf_clip
from .llm import make_tiny_llm
from .synthetic import make_synthetic
from .tokenizer import make_tiny_tokenizer


def build_tiny_workspace(root: str | Path, seed: int = 0, num_av: int = 32, paper_media: bool = False) -> Path:
    """Writes ``llm/``, ``clip/``, ``beats.pt`` and ``data/`` under ``root`` (the DEMO_ROOT).

    ``paper_media``: real-sized encoders (CLIP ViT-B/16, BEATs base; random weights) and 10 s
    clips (224 px, 25 fps, 10 s of audio), so that decoding and encoding cost what they do in
    the paper's setting (with ``PAPER_MEDIA_OVERRIDES`` on the tiny recipe); the LLM stays tiny.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tiny_tokenizer(root / "llm", style="llama3")
    make_tiny_llm("llama", seed=seed, directory=root / "llm", vocab_size=len(tokenizer))
    make_tiny_hf_clip(root / "clip", seed=seed, shape=BASE_HF_CLIP_SHAPE if paper_media else None)
    make_tiny_beats(root / "beats.pt", seed=seed, cfg=BASE_BEATS_CFG if paper_media else None)
    clips = dict(frames=250, size=224, fps=25, audio_seconds=10.0) if paper_media else dict(frames=8, size=32)
    make_synthetic(root / "data", seed=seed, num_av=num_av, num_image=0, num_speech=0, **clips)
    return root


# configs/tiny_avqa.yaml with the paper's sampling: 10 frames at 224 px, 10 one-second audio segments
PAPER_MEDIA_OVERRIDES = [
    "data.video_frames=10",
    "data.image_size=224",
    "model.modalities=[{name: video, placeholder: <video>, frames: 10, "
    "encoder: {type: clip_hf, path: '${DEMO_ROOT}/clip', layer: -2}, "
    "projector: {type: qformer, num_queries: 4, num_layers: 1, hidden_size: 32, num_heads: 4}}, "
    "{name: audio, placeholder: <audio>, frames: 10, segment_seconds: 1.0, "
    "encoder: {type: beats, path: '${DEMO_ROOT}/beats.pt'}, "
    "projector: {type: qformer, num_queries: 4, num_layers: 1, hidden_size: 32, num_heads: 4}}]",
]
