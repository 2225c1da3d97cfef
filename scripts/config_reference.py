"""Write docs/config_reference.md from the config schema: python scripts/config_reference.py
(== `moka-train config-reference --output docs/config_reference.md`)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without install

from moka_train.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["--output", str(ROOT / "docs" / "config_reference.md")], command="config-reference"))
