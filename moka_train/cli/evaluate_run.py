"""`moka-train evaluate run`: generate a benchmark's predictions from a checkpoint export, then score them.

    moka-train evaluate run --config C --checkpoint EXPORT_DIR --benchmark NAME --input F.jsonl
        [--output P.jsonl] [--limit N] [--adapter-modalities text video ...] [--batch-size 8]
        [--max-new-tokens N] [--decoding greedy|official] [--seed S] [key=value ...]

(``python scripts/evaluate.py run ...`` is the same command.)

``--benchmark`` is one of the protocol table's names (checked before anything is loaded); the
decoding budget is the benchmark's official one (``eval.protocol``) unless ``--max-new-tokens``
overrides it. ``--decoding official`` decodes as the official inference does (the LLM's
``generation_config.json`` decides, sampling included; seeded by ``--seed``), ``greedy`` (the
default) never samples; the mode is recorded in every row, the effective settings in the
``.progress.json`` beside the predictions and in the result. A rerun onto an output written by
another evaluation (checkpoint, probe, benchmark, input, budget or decoding differ) is refused
(exit 2); see ``eval.progress``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..config import load_config
from ..eval.decoding import DECODING_MODES, DEFAULT_SEED, Decoding
from ..eval.score import BENCHMARKS, decoding_budget
from .common import require_export


def register(actions: argparse._SubParsersAction) -> None:
    """``evaluate run`` under the evaluate family of the one CLI parser."""
    parser = actions.add_parser(
        "run",
        help="generate a benchmark's predictions from an export, then score them",
        description=__doc__.splitlines()[0],
    )
    add_run_args(parser)
    parser.set_defaults(func=cmd_run)


def add_run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True)
    parser.add_argument("--checkpoint", required=True, help="an export directory (<output_dir>/export/<stage>)")
    parser.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    parser.add_argument("--input", required=True, help="the benchmark in the unified evaluation JSONL")
    parser.add_argument(
        "--output",
        help="predictions JSONL (default: <output_dir>/predictions/<export>_<benchmark>_<probe>.jsonl, "
        "under the run's output_dir, never inside the export)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        help="generate only for the first N samples of the input (rows already in the output are kept)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        help="decoding budget (default: the benchmark's official budget, e.g. mmbench 5, pope 50)",
    )
    parser.add_argument("--adapter-modalities", nargs="+", help="partial-modality probe: e.g. text, or video audio")
    parser.add_argument(
        "--decoding",
        choices=DECODING_MODES,
        default="greedy",
        help="greedy (default): never sample; official: the LLM's generation_config.json decides, as the "
        "official inference calls generate (Llama-2-chat samples at T 0.6, top-p 0.9)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed of --decoding official (default {DEFAULT_SEED})"
    )
    parser.add_argument("--mode", choices=["official", "strict"], default="official")
    parser.add_argument(
        "--no-fold",
        dest="fold",
        action="store_false",
        help="keep the adapters' text path unfolded in decoding (same tokens, slower)",
    )
    parser.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. data.root=/data")


def cmd_run(args: argparse.Namespace) -> int:
    from ..eval.progress import ProgressError
    from ..eval.run import EvaluationInputError, run_generation
    from ..utils.dist import init_distributed, is_main

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # under deepspeed/torchrun: shard over the ranks
        init_distributed()
    cfg = load_config(args.config, args.overrides)
    require_export(args.checkpoint)  # before the model is built
    probe = "-".join(args.adapter_modalities) if args.adapter_modalities else "all"
    output = Path(args.output) if args.output else default_output(cfg, args.checkpoint, args.benchmark, probe)
    budget = decoding_budget(args.benchmark, args.max_new_tokens)
    try:
        run_generation(
            cfg,
            args.checkpoint,
            args.input,
            output,
            args.batch_size,
            budget,
            args.limit,
            args.adapter_modalities,
            fold=args.fold,
            benchmark=args.benchmark,
            decoding=Decoding(args.decoding, args.seed),
        )
    except (ProgressError, EvaluationInputError) as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    return score_and_record(args, cfg, output, probe, budget) if is_main() else 0


def default_output(cfg, checkpoint: str, benchmark: str, probe: str) -> Path:
    """Predictions under the run's own output_dir (an export directory holds weights only: it may be
    read-only, shared, or copied elsewhere), named by the export's stage, benchmark and probe."""
    folder = Path(cfg.output_dir) / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{Path(checkpoint).name}_{benchmark}_{probe}.jsonl"


def score_and_record(args: argparse.Namespace, cfg, output: Path, probe: str, budget: int) -> int:
    """Score the predictions, warn about samples without an answer, write the result file."""
    from ..eval.metrics import ScoringError
    from ..eval.predictions import PredictionsError
    from ..eval.progress import key_file
    from ..eval.score import record_result, score_file

    try:
        scored = score_file(args.benchmark, str(output), args.mode)
    except (PredictionsError, ScoringError) as err:  # the predictions stay; `evaluate score` can be rerun
        sys.stderr.write(f"error: predictions written to {output}, but they cannot be scored: {err}\n")
        return 2
    run = {
        "method": cfg.adapter.method,
        "recipe": Path(args.config).stem,
        "checkpoint": str(args.checkpoint),
        "adapter_modalities": probe,
        "max_new_tokens": budget,
        "decoding": json.loads(key_file(output).read_text()).get("generation", {"mode": args.decoding}),
    }
    if scored["n_missing"]:
        sys.stderr.write(
            f"evaluate run: warning: {scored['n_missing']} samples have no answer (error rows in "
            f"{output}, reported as n_missing{'; counted wrong' if args.mode == 'strict' else ''})\n"
        )
    result = record_result(scored, run, output)
    sys.stdout.write(json.dumps(result) + "\n")  # the one result line, always last
    return 0
