"""The arguments of `moka-train serve` (argparse only, so that `moka-train --help` stays fast)."""

from __future__ import annotations

import argparse


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
        "--no-fold",
        dest="fold",
        action="store_false",
        help="keep the adapters' text path unfolded in decoding (same tokens, slower)",
    )
