"""Run the frozen encoders once over a recipe's data and store the features (the feature cache).

    python data_prep/cache_features.py --config configs/avqa_llama3.yaml data.feature_cache=/scratch/feats

Prints one JSON line of counts (written, already_cached, missing_media, unreadable_media).
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from moka_train.config import load_config  # noqa: E402
from moka_train.train.feature_cache_writer import fill_feature_cache  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    print(json.dumps(fill_feature_cache(load_config(args.config, args.overrides))))
