"""An output directory belongs to one run: a new run never silently replaces an earlier one.

Rerunning a command without ``resume=auto`` used to prune the earlier run's checkpoints, replace
its exports and append to its metrics. Now it refuses, saying both ways forward; ``overwrite=true``
deletes what the earlier run wrote and starts afresh. An export the recipe reads by path
(``init_from`` an import under ``output_dir/export``) is an input: it neither blocks a first run
nor is deleted by ``overwrite=true``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..config import ConfigError, RunConfig
from ..utils.dist import barrier, writes_outputs
from ..utils.logging import get_logger
from .checkpoint import LATEST, CheckpointManager
from .stages import imported_exports

log = get_logger(__name__)
# everything a run writes that a fresh run would mix with its own
RUN_OUTPUTS = ("checkpoints", "export", "metrics.jsonl", "data_report_*.json", "loss_*.png")


def earlier_run(out: Path, checkpoints: CheckpointManager, inputs: frozenset[Path] = frozenset()) -> list[str]:
    """What an earlier run left in ``out`` (empty when there is none). ``inputs``: export
    directories this run reads (an import under ``out/export``): not a run's output."""
    found = []
    done = checkpoints.complete()
    if done:
        found.append(f"{len(done)} checkpoint(s) in {checkpoints.root}, the last {done[-1].name}")
    elif (checkpoints.root / LATEST).is_file():
        found.append(f"{checkpoints.root / LATEST}")
    exports = sorted(p.name for p in run_exports(out, inputs))
    if exports:
        found.append(f"exports of stage(s) {', '.join(exports)} in {out / 'export'}")
    return found


def claim_output_dir(cfg: RunConfig, checkpoints: CheckpointManager) -> None:
    """Refuse to start a fresh run over an earlier one, unless ``overwrite`` says to delete it."""
    if cfg.resume is not None:
        return
    out = Path(cfg.output_dir)
    inputs = frozenset(imported_exports(cfg))
    found = earlier_run(out, checkpoints, inputs)
    if not found:
        return
    if not cfg.overwrite:
        raise ConfigError(
            f"output_dir {out} already holds a run ({'; '.join(found)}). Continue it with "
            "resume=auto, or start afresh with overwrite=true (deletes its checkpoints, exports "
            "and metrics), or choose another output_dir."
        )
    barrier()  # every rank has looked before rank 0 deletes (each node's, on node-local disks)
    if writes_outputs(checkpoints.shared):
        log.warning("overwrite=true: deleting the earlier run in %s (%s)", out, "; ".join(found))
        for pattern in RUN_OUTPUTS:
            for path in run_exports(out, inputs) if pattern == "export" else out.glob(pattern):
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
    barrier()


def run_exports(out: Path, inputs: frozenset[Path]) -> list[Path]:
    """The export directories under ``out/export`` a run wrote: all but those it reads by path
    (``init_from: <output_dir>/export/official`` after ``moka-train import-official``)."""
    return sorted(p.parent for p in (out / "export").glob("*/manifest.json") if p.parent.resolve() not in inputs)
