"""The converters are scripts in data_prep/ that import ``common`` as a sibling: put that folder on the path."""

import sys
from pathlib import Path

DATA_PREP = Path(__file__).resolve().parents[2] / "data_prep"
if str(DATA_PREP) not in sys.path:
    sys.path.insert(0, str(DATA_PREP))
