"""Arguments shared by the subcommands that read a recipe."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import ConfigError


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML recipe")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_steps=10")
    # injected by the deepspeed launcher; the rank itself is read from the environment
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)


def require_export(path: str | Path, flag: str = "--checkpoint") -> None:
    """An export directory (its manifest.json), checked before any model is built."""
    from ..utils.weights_format import MANIFEST  # the format's own name for it

    if not (Path(path) / MANIFEST).is_file():
        raise ConfigError(
            f"{flag} {path}: no export there (no {MANIFEST}); give an export directory, "
            "<output_dir>/export/<stage>, written by `moka-train train` or `moka-train import-official`"
        )
