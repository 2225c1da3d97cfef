"""Generate a benchmark's predictions: resumable, sharded over ranks, with the partial-modality probe.

Each rank answers every ``world``-th remaining sample and appends its rows to its own part file
as each batch finishes; rank 0 merges the parts. A rerun of the same evaluation (same checkpoint,
probe, benchmark, input and budget: see :mod:`.progress`) reads what is already written and skips
those ids, so an interrupted evaluation never redoes finished samples; any other rerun onto the
same output is refused.

Every input sample gets exactly one row: an answer, or an error row (``id``, ``error`` = reason,
``detail``) when its media cannot be read or its prompt cannot be rendered; nothing is
substituted. Error rows are retried by a rerun (the media may have been fixed) and counted by
the scorers as ``n_missing``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import torch
from torch.utils.data import Subset

from ..config import RunConfig
from ..modality import QUERY, TEXT
from ..utils.dist import barrier, is_main, rank, world_size
from ..utils.jsonl import append_jsonl, write_jsonl
from ..utils.logging import get_logger
from .decoding import GREEDY, Decoding
from .generate import answer_batches, eval_dataset, load_for_inference, rejected_rows
from .progress import check_progress, progress_key, read_rows, write_key
from .protocol import PROTOCOLS

log = get_logger(__name__)


class EvaluationInputError(ValueError):
    """An input file that cannot be evaluated row for row (e.g. two samples with one id)."""


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


def part_path(output: Path, r: int) -> Path:
    return output.with_name(f"{output.name}.rank{r}")


def part_files(output: Path) -> list[Path]:
    """Every rank's part file beside ``output``, whatever world size wrote them."""
    if not output.parent.is_dir():
        return []
    return sorted(p for p in output.parent.iterdir() if re.fullmatch(re.escape(output.name) + r"\.rank\d+", p.name))


def finished(rows: dict[str, dict]) -> set[str]:
    """Ids answered already (error rows are tried again)."""
    return {i for i, row in rows.items() if not row.get("error")}


def run_generation(
    cfg: RunConfig,
    checkpoint: str | Path,
    input_file: str | Path,
    output: str | Path,
    batch_size: int = 8,
    max_new_tokens: int = 32,
    limit: int | None = None,
    adapter_modalities: list[str] | None = None,
    fold: bool = True,
    benchmark: str | None = None,
    decoding: Decoding = GREEDY,
) -> Path:
    """Every row carries ``adapter_modalities`` and ``decoding`` (the mode); the progress file
    beside the output records the effective decoding settings under ``generation``."""
    output = Path(output)
    key = progress_key(checkpoint, adapter_modalities, benchmark, input_file, max_new_tokens, decoding.identity())
    check_progress(output, key, part_files(output))
    cfg = with_benchmark_system_prompt(cfg, benchmark)
    tokenizer, model = load_for_inference(cfg, checkpoint, fold=fold)
    model.slot.active_ids = probe_ids(model, adapter_modalities)
    key["generation"] = decoding.settings(model)
    dataset = eval_dataset(cfg, tokenizer, model, input_file)
    refuse_duplicate_ids(dataset.read_order, input_file)
    barrier()
    if is_main():  # earlier parts (torn lines dropped) into the output, so every rank sees the same done set
        write_key(output, key)
        merge_parts(output, order=dataset.read_order)
    barrier()
    done = finished(read_rows(output))
    wanted = set(dataset.read_order[:limit])
    todo = [i for i, s in enumerate(dataset.samples) if s.id in wanted and s.id not in done]
    mine = todo[rank() :: world_size()]
    log.info("%d samples, %d already done, %d on this rank", len(wanted), len(done & wanted), len(mine))
    tags = {"adapter_modalities": adapter_modalities or "all", "decoding": decoding.mode}
    part = part_path(output, rank())
    if is_main():  # samples that cannot be prompted at all: their error rows, once
        unusable = [r for r in rejected_rows(dataset) if r["id"] in wanted and r["id"] not in done]
        append_jsonl(part, [{**r, **tags} for r in unusable])
    with torch.no_grad():
        for rows in answer_batches(model, tokenizer, Subset(dataset, mine), batch_size, max_new_tokens, decoding):
            # one append a batch: an interruption loses at most the batch in flight
            append_jsonl(part, [{**row, **tags} for row in rows])
    barrier()
    if is_main():
        merged = merge_parts(output, order=dataset.read_order)
        warn_missing(output, [merged[i] for i in dataset.read_order[:limit] if i in merged])
    barrier()
    return output


def with_benchmark_system_prompt(cfg: RunConfig, benchmark: str | None) -> RunConfig:
    """The benchmark's official system prompt (MMBench's classification assistant) in place of
    ``data.system_prompt``, for rows converted without their own ``system`` turn."""
    system = PROTOCOLS[benchmark].system_prompt if benchmark in PROTOCOLS else None
    if system is None:
        return cfg
    log.info("%s: system prompt %r (the official script's)", benchmark, system)
    return cfg.model_copy(update={"data": cfg.data.model_copy(update={"system_prompt": system})})


def refuse_duplicate_ids(ids: list[str], source: str | Path) -> None:
    """Two samples with one id would collapse into one row on merge: refuse, naming them."""
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    if repeated:
        named = ", ".join(map(repr, repeated[:5])) + (" ..." if len(repeated) > 5 else "")
        raise EvaluationInputError(
            f"{source}: {len(repeated)} sample ids occur more than once ({named}); "
            "each sample needs its own id to get its own row"
        )


def warn_missing(output: Path, rows: list[dict]) -> None:
    errors = Counter(str(r["error"]) for r in rows if r.get("error"))
    if errors:
        log.warning(
            "%s: %d of %d samples have an error row instead of an answer (%s); the scores report them "
            "as n_missing (strict mode counts them wrong); a rerun tries them again",
            output,
            sum(errors.values()),
            len(rows),
            dict(errors),
        )


def merge_parts(output: Path, order: list[str]) -> dict[str, dict]:
    """Rows of the output and every part file, one per id, in the input's order (part rows win)."""
    rows = read_rows(output)
    parts = part_files(output)
    for part in parts:
        rows.update(read_rows(part))
    write_jsonl(output, (rows[i] for i in order if i in rows))
    for part in parts:
        part.unlink()
    return rows
