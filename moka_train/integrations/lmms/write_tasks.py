"""Write the MUSIC-AVQA / AVE lmms-eval task files with absolute paths (see ``tasks``).

python -m moka_train.integrations.lmms.write_tasks --output DIR [--music-avqa F.jsonl] [--ave F.jsonl]
    --media-root DATA
"""

from __future__ import annotations

import argparse
import sys

from .tasks import write_tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="write_tasks", description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="directory to pass to lmms-eval --include_path")
    parser.add_argument("--music-avqa", help="MUSIC-AVQA test JSONL (data_prep/convert_music_avqa_test.py)")
    parser.add_argument("--ave", help="AVE test JSONL (data_prep/convert_ave_test.py)")
    parser.add_argument("--media-root", required=True, help="the data.root the JSONL media paths are relative to")
    args = parser.parse_args(argv)
    files = {k: v for k, v in (("music_avqa", args.music_avqa), ("ave", args.ave)) if v}
    if not files:
        parser.error("give --music-avqa and/or --ave")
    for path in write_tasks(args.output, files, args.media_root):
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
