"""`evaluate.py run`: generate a benchmark's predictions from a checkpoint export, then score them.

    python scripts/evaluate.py run --config C --checkpoint EXPORT_DIR --benchmark NAME --input F.jsonl
        [--output P.jsonl] [--limit N] [--adapter-modalities text video ...] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..config import load_config


def run_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="evaluate.py run", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--checkpoint", required=True, help="an export directory (<output_dir>/export/<stage>)")
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--input", required=True, help="the benchmark in the unified evaluation JSONL")
    parser.add_argument("--output", help="predictions JSONL (default: next to the export)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--adapter-modalities", nargs="+", help="partial-modality probe: e.g. text, or video audio")
    parser.add_argument("--mode", choices=["official", "strict"], default="official")
    parser.add_argument("--no-fold", dest="fold", action="store_false",
                        help="keep the adapters' text path unfolded in decoding (same tokens, slower)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)

    from ..utils.dist import init_distributed, is_main
    from .run import run_generation

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # under deepspeed/torchrun: shard over the ranks
        init_distributed()
    cfg = load_config(args.config, args.overrides)
    probe = "-".join(args.adapter_modalities) if args.adapter_modalities else "all"
    output = Path(args.output or Path(args.checkpoint) / f"predictions_{args.benchmark}_{probe}.jsonl")
    run_generation(cfg, args.checkpoint, args.input, output, args.batch_size, args.max_new_tokens, args.limit,
                   args.adapter_modalities, fold=args.fold)
    if not is_main():
        return 0
    from .cli import score_file

    result = {**score_file(args.benchmark, str(output), args.mode), "method": cfg.adapter.method,
              "recipe": Path(args.config).stem, "checkpoint": str(args.checkpoint), "adapter_modalities": probe}
    output.with_name(output.name + ".result.json").write_text(json.dumps(result) + "\n")
    print(json.dumps(result))  # the one result line, always last
    return 0
