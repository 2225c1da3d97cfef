"""Write docs/config_reference.md from the config schema: python scripts/config_reference.py"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moka_train.config.reference import config_reference  # noqa: E402

if __name__ == "__main__":
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "config_reference.md").write_text(config_reference())
