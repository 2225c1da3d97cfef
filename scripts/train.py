"""Thin wrapper: `python scripts/train.py ...` == `moka-train train ...` (also under deepspeed/torchrun)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from moka_train.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(command="train"))
