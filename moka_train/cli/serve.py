"""`moka-train serve`: the OpenAI-compatible server of a trained export (``moka_train.serve``).

The arguments are argparse only, so that `moka-train --help` stays fast; torch, fastapi and
uvicorn are imported when serving.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import load_config
from ..utils.logging import get_logger
from .common import add_config_args

log = get_logger(__name__)


def add_serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        "--export",
        dest="checkpoint",
        required=True,
        help="export directory written by training (<output_dir>/export/<stage>)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model-name", help="the model id clients send and get back (default: the recipe's name)")
    parser.add_argument(
        "--media-root",
        help="local media paths in requests are read only under this directory "
        "(without it, only base64 data URLs are accepted)",
    )
    parser.add_argument(
        "--batch-window-ms",
        type=float,
        default=10.0,
        help="how long the first waiting request waits for others to join its batch",
    )
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=256, help="budget of a request that names none")
    parser.add_argument(
        "--max-body-mb", type=float, default=64.0, help="larger request bodies are refused (413) unread"
    )
    parser.add_argument(
        "--request-timeout-s", type=float, default=300.0, help="a request not answered by then gets 504"
    )
    parser.add_argument(
        "--shutdown-grace-s",
        type=float,
        default=10.0,
        help="on SIGTERM, how long the batch in flight may finish; queued requests get 503",
    )
    parser.add_argument(
        "--no-fold",
        dest="fold",
        action="store_false",
        help="keep the adapters' text path unfolded in decoding (same tokens, slower)",
    )


def serve_main(args: argparse.Namespace) -> int:

    from ..serve.app import ServeBounds, create_app, run_server
    from ..serve.engine import AnswerEngine

    cfg = load_config(args.config, args.overrides)
    engine = AnswerEngine(cfg, args.checkpoint, fold=args.fold)
    name = args.model_name or Path(args.config).stem
    app = create_app(
        engine,
        name,
        Path(args.media_root) if args.media_root else None,
        args.batch_window_ms,
        args.max_batch,
        args.max_tokens,
        ServeBounds(int(args.max_body_mb * 1024**2), args.request_timeout_s, args.shutdown_grace_s),
    )
    log.info("serving %s (%s) on http://%s:%d/v1", name, args.checkpoint, args.host, args.port)
    run_server(app, args.host, args.port, args.shutdown_grace_s)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="OpenAI-compatible /v1/chat/completions server of a trained export")
    add_config_args(p)
    add_serve_args(p)
    p.set_defaults(func=serve_main)
