"""Generate a benchmark's predictions: resumable, sharded over ranks, with the partial-modality probe.

Each rank answers every ``world``-th remaining sample and appends its rows to its own part file
as each batch finishes; rank 0 merges the parts. A rerun reads what is already written and skips
those ids, so an interrupted evaluation never redoes finished samples.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.utils.data import Subset

from ..config import RunConfig
from ..modality import QUERY, TEXT
from ..utils.dist import barrier, is_main, rank, world_size
from ..utils.logging import get_logger
from .generate import answer_batches, eval_dataset, load_for_inference

log = get_logger(__name__)


def probe_ids(model, names: list[str] | None) -> tuple[int, ...] | None:
    """Modality ids whose tokens keep their adapter delta: "text" means text and query text."""
    if not names:
        return None
    by_name = {b.spec.name: b.spec.id for b in model.branches}
    unknown = [n for n in names if n != "text" and n not in by_name]
    if unknown:
        raise ValueError(f"--adapter-modalities: unknown {unknown}; choose from text, {', '.join(by_name)}")
    ids = [by_name[n] for n in names if n != "text"]
    return tuple(sorted(ids + ([TEXT, QUERY] if "text" in names else [])))


def read_done(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {r["id"]: r for r in rows}


def run_generation(cfg: RunConfig, checkpoint: str | Path, input_file: str | Path, output: str | Path,
                   batch_size: int = 8, max_new_tokens: int = 32, limit: int | None = None,
                   adapter_modalities: list[str] | None = None, fold: bool = True) -> Path:
    tokenizer, model = load_for_inference(cfg, checkpoint, fold=fold)
    model.slot.active_ids = probe_ids(model, adapter_modalities)
    output = Path(output)
    part = output.with_name(f"{output.name}.rank{rank()}")
    done = {**read_done(output), **read_done(part)}
    dataset = eval_dataset(cfg, tokenizer, model, input_file)
    todo = [i for i, s in enumerate(dataset.samples[:limit]) if s.id not in done]
    mine = todo[rank()::world_size()]
    log.info("%d samples, %d already done, %d on this rank", len(dataset.samples[:limit]), len(done), len(mine))
    probe = adapter_modalities or "all"
    with part.open("a") as fh, torch.no_grad():
        for rows in answer_batches(model, tokenizer, Subset(dataset, mine), batch_size, max_new_tokens):
            fh.write("".join(json.dumps({**row, "adapter_modalities": probe}) + "\n" for row in rows))
            fh.flush()  # an interruption loses at most the batch in flight
    barrier()
    if is_main():
        merge_parts(output, world_size(), order=[s.id for s in dataset.samples[:limit]])
    barrier()
    return output


def merge_parts(output: Path, parts: int, order: list[str]) -> None:
    """Rows of the output and every rank's part, one per id, in the input's order."""
    rows = read_done(output)
    for r in range(max(parts, 1)):
        rows.update(read_done(output.with_name(f"{output.name}.rank{r}")))
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text("".join(json.dumps(rows[i]) + "\n" for i in order if i in rows))
    tmp.replace(output)
    for r in range(max(parts, 1)):
        output.with_name(f"{output.name}.rank{r}").unlink(missing_ok=True)
