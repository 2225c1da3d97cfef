"""A complete tiny workspace on disk: tokenizer + LLaMA, CLIP, BEATs, synthetic AV data.

Everything is written in each library's own format and later loaded through the real loading
code, exactly as a user's checkpoints would be. Used by `make demo` and the end-to-end tests.
"""

from __future__ import annotations

from pathlib import Path

from .encoders import make_tiny_beats, make_tiny_hf_clip
from .llm import make_tiny_llm
from .synthetic import make_synthetic
from .tokenizer import make_tiny_tokenizer


def build_tiny_workspace(root: str | Path, seed: int = 0, num_av: int = 32) -> Path:
    """Writes ``llm/``, ``clip/``, ``beats.pt`` and ``data/`` under ``root`` (the DEMO_ROOT)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tiny_tokenizer(root / "llm", style="llama3")
    make_tiny_llm("llama", seed=seed, directory=root / "llm", vocab_size=len(tokenizer))
    make_tiny_hf_clip(root / "clip", seed=seed)
    make_tiny_beats(root / "beats.pt", seed=seed)
    make_synthetic(root / "data", seed=seed, num_av=num_av, num_image=0, num_speech=0, frames=8, size=32)
    return root
