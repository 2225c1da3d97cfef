"""BEATs: our implementation of the architecture, its fbank front end, the official checkpoint loader."""

from .config import BEATsConfig
from .encoder import BeatsEncoder, beats_from_checkpoint, load_beats, save_beats
from .fbank import beats_fbank, kaldi_fbank
from .model import BEATs

__all__ = [
    "BEATs",
    "BEATsConfig",
    "BeatsEncoder",
    "beats_fbank",
    "beats_from_checkpoint",
    "kaldi_fbank",
    "load_beats",
    "save_beats",
]
