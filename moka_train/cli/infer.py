"""`moka-train infer`: answers of a trained export, for a JSONL file or for one question."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import load_config
from ..utils.logging import get_logger
from .common import add_config_args, require_export

log = get_logger(__name__)
MEDIA_KINDS = ("image", "video", "audio", "speech")


def infer_main(args: argparse.Namespace) -> int:
    """Exit 2 with a message when there is nothing to answer or no export, 1 when the one question
    got no answer."""
    import torch

    from ..eval.generate import answer_question, generate_predictions, load_for_inference
    from ..utils.jsonl import write_jsonl

    cfg = load_config(args.config, args.overrides)
    source = args.input or cfg.data.eval_file
    if not args.question and source is None:  # refused before the model is loaded
        sys.stderr.write("error: infer: give --question (with --video/--audio/...), --input, or set data.eval_file\n")
        return 2
    export = args.export or str(Path(cfg.output_dir) / "export" / cfg.stages[-1].name)
    require_export(export)
    tokenizer, model = load_for_inference(cfg, export)
    if args.question:  # one answer, printed
        media = {kind: getattr(args, kind) for kind in MEDIA_KINDS if getattr(args, kind)}
        row = answer_question(cfg, tokenizer, model, media, args.question)
        if row.get("error"):
            sys.stderr.write(f"error: infer: no answer: {row['error']}: {row['detail']}\n")
            return 1
        sys.stdout.write(row["prediction"] + "\n")
        return 0
    with torch.no_grad():
        rows = generate_predictions(cfg, tokenizer, model, source)
    out = write_jsonl(args.output or Path(cfg.output_dir) / "predictions.jsonl", rows)
    log.info("wrote %d predictions to %s", len(rows), out)
    errors = [r["id"] for r in rows if r.get("error")]
    if errors:
        log.warning(
            "%s: %d of %d samples have an error row instead of an answer (first: %s)",
            out,
            len(errors),
            len(rows),
            errors[:5],
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("infer", help="generate answers with a trained export")
    add_config_args(p)
    p.add_argument("--export", "--checkpoint", dest="export", help="export directory written by training")
    p.add_argument("--input", help="JSONL of samples to answer")
    p.add_argument("--output", help="predictions JSONL")
    p.add_argument("--question", help="answer one question about the media given below, and print it")
    for kind in MEDIA_KINDS:
        p.add_argument(f"--{kind}", help=f"{kind} file for --question")
    p.set_defaults(func=infer_main)
