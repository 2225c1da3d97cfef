"""Logging: info on rank 0 only; warnings and errors from every rank, prefixed with the rank."""

from __future__ import annotations

import logging
import os

_CONFIGURED = False


class _RankFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.rank = int(os.environ.get("RANK", 0))
        return record.levelno >= logging.WARNING or record.rank == 0


def get_logger(name: str) -> logging.Logger:
    """A logger under ``moka_train``; the handler is installed once."""
    global _CONFIGURED
    root = logging.getLogger("moka_train")
    if not _CONFIGURED:
        handler = logging.StreamHandler()
        handler.addFilter(_RankFilter())
        handler.setFormatter(logging.Formatter("[rank%(rank)s] %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
        _CONFIGURED = True
    return logging.getLogger(name if name.startswith("moka_train") else f"moka_train.{name}")
