"""Plain helpers of the data tests (a module of its own: ``from conftest import`` picks whichever
conftest was imported last when several test folders are collected together)."""

from __future__ import annotations

import json
from pathlib import Path

# template -> tokenizer style it is used with
TEMPLATE_STYLES = {"llama2": "llama2", "llama3": "llama3", "qwen2": "qwen2", "plain": "llama3"}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path
