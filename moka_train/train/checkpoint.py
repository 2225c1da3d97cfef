"""Complete, atomic checkpoints: written aside, marked complete, then made ``latest``.

Layout under ``<output_dir>/checkpoints``::

    <stage>-step00000100/          DeepSpeed engine state (weights, optimiser, scheduler)
        rng_rank<r>.pt             every rank's RNG state
        trainer_state.json         step, stage, sampler position, counters, data report, run identity
        checksums.json             size and sha256 of every file above (verified before loading)
        COMPLETE                   written last; a directory without it is never loaded
    latest                         the tag of the newest complete checkpoint (replaced atomically)

A crash at any point of a save leaves ``latest`` pointing at the previous complete checkpoint.
Loading verifies the checksums and unpickles tensors only (``checkpoint_files``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from ..utils.dist import barrier, rank, writes_outputs
from ..utils.logging import get_logger
from .checkpoint_files import (
    CheckpointFileError,
    install_safe_loader,
    safe_torch_load,
    verify_checksums,
    write_checksums,
)

log = get_logger(__name__)
COMPLETE = "COMPLETE"
LATEST = "latest"
STATE_FILE = "trainer_state.json"
PARTIAL = ".partial"


def checkpoint_tag(stage: str, step: int) -> str:
    return f"{stage}-step{step:08d}"


def capture_rng() -> dict:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": list(random.getstate()[1]),
        "python_version": random.getstate()[0],
        "numpy_key": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
    }


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate((state["python_version"], tuple(state["python"]), None))
    np.random.set_state(("MT19937", state["numpy_key"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))


class CheckpointManager:
    def __init__(self, root: str | Path, keep_last: int = 2, shared: bool = True) -> None:
        self.root = Path(root)
        self.keep_last = keep_last
        # on node-local disks every node keeps a whole checkpoint: its local rank 0 does the bookkeeping
        self.shared = shared
        self._verified: set[Path] = set()

    def save(self, engine, stage: str, step: int, trainer_state: dict) -> Path:
        """Every rank calls this. Returns the final checkpoint directory."""
        tag = checkpoint_tag(stage, step)
        partial = self.root / f"{tag}{PARTIAL}"
        writer = writes_outputs(self.shared)
        if writer:
            self.root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(partial, ignore_errors=True)  # debris of an earlier crash
        barrier()
        try:
            # frozen weights (the LLM, the encoders) come from their own files: never copy them here
            engine.save_checkpoint(str(self.root), tag=partial.name, save_latest=False, exclude_frozen_parameters=True)
            torch.save(capture_rng(), partial / f"rng_rank{rank()}.pt")
            barrier()
            if writer:
                trainable = sorted(n for n, p in engine.module.named_parameters() if p.requires_grad)
                self._write_json(
                    partial / STATE_FILE, {**trainer_state, "stage": stage, "step": step, "trainable": trainable}
                )
                write_checksums(partial)
                (partial / COMPLETE).write_text("ok\n")
        except (OSError, RuntimeError) as err:  # a full disk, a quota: torch and DeepSpeed raise either
            raise self._write_failed(partial, tag, err) from None
        final = self.root / tag
        if writer:
            shutil.rmtree(final, ignore_errors=True)
            os.replace(partial, final)
            self._write_text_atomic(self.root / LATEST, tag)
            self._prune(keep=final)
            log.info("checkpoint saved: %s", final)
        barrier()
        return final

    def _write_failed(self, partial: Path, tag: str, err: Exception) -> CheckpointFileError:
        """The error of a checkpoint that could not be written; its partial files are removed
        (space for the next try) and the last complete checkpoint stays the one to resume from."""
        shutil.rmtree(partial, ignore_errors=True)
        kept = self.complete()
        last = f"the last good checkpoint {kept[-1]} is kept" if kept else "no earlier checkpoint exists"
        first = str(err).splitlines()[0] if str(err) else ""
        return CheckpointFileError(
            f"checkpoint {tag} could not be written under {self.root} ({type(err).__name__}: {first}); "
            f"{last}. Free disk space and resume."
        )

    def latest(self) -> Path | None:
        pointer = self.root / LATEST
        if not pointer.is_file():
            return None
        path = self.root / pointer.read_text().strip()
        if not (path / COMPLETE).is_file():
            raise RuntimeError(f"{pointer} names {path}, which is not a complete checkpoint")
        return path

    def complete(self) -> list[Path]:
        """Every complete checkpoint directory (by name)."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and (p / COMPLETE).is_file())

    def newest_verified(self, stage_order: list[str]) -> Path | None:
        """The newest complete checkpoint whose files verify; the ones that fail are logged by file."""

        def newest_first(path: Path) -> tuple[int, int]:
            try:
                state = read_state(path)
            except CheckpointFileError:
                return (-2, -1)  # tried last; verify() names the broken file
            stage = state.get("stage")
            return (stage_order.index(stage) if stage in stage_order else -1, int(state.get("step", -1)))

        failures = []
        for path in sorted(self.complete(), key=newest_first, reverse=True):
            try:
                self.verify(path)
                if failures:
                    log.warning("resume: falling back to %s, the newest checkpoint that verifies", path)
                return path
            except CheckpointFileError as err:
                log.warning("resume: skipping checkpoint %s: %s", path.name, err)
                failures.append(str(err))
        if failures:
            raise CheckpointFileError("resume: no checkpoint verifies:\n  " + "\n  ".join(failures))
        return None

    def verify(self, path: Path) -> None:
        """Checksums of every file; once per directory and process."""
        path = Path(path)
        if path.resolve() in self._verified:
            return
        if not (path / COMPLETE).is_file():
            raise CheckpointFileError(f"not a complete checkpoint (no {COMPLETE} marker): {path}")
        verify_checksums(path)
        self._verified.add(path.resolve())

    def load(self, engine, path: str | Path) -> dict:
        """Restore engine state and this rank's RNG; returns the trainer state."""
        path = Path(path)
        self.verify(path)
        state = read_state(path)
        _check_same_trainable(engine.module, state["trainable"], path)
        install_safe_loader(engine)  # DeepSpeed's own reader would unpickle anything
        # the checkpoint holds the trainable parameters only, so DeepSpeed must not insist on finding
        # the frozen ones in it; what it does hold is compared with what this model trains, by name
        load_path, _ = engine.load_checkpoint(
            str(path.parent),
            tag=path.name,
            load_module_strict=False,
            custom_load_fn=lambda src, dst: load_trainable(src, dst, path),
        )
        if load_path is None:
            raise RuntimeError(f"DeepSpeed could not load the checkpoint at {path}")
        restore_rng(safe_torch_load(path / f"rng_rank{rank()}.pt"))
        return state

    def _prune(self, keep: Path) -> None:
        done = sorted((p for p in self.root.iterdir() if (p / COMPLETE).is_file()), key=lambda p: p.stat().st_mtime)
        for old in done[: max(0, len(done) - self.keep_last)]:
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def _write_text_atomic(path: Path, text: str) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def _write_json(self, path: Path, data: dict) -> None:
        self._write_text_atomic(path, json.dumps(data, indent=2))


def read_state(path: Path) -> dict:
    """trainer_state.json of a checkpoint directory; a broken one is named."""
    file = Path(path) / STATE_FILE
    try:
        return json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointFileError(f"{file}: cannot be read ({type(err).__name__}: {err})") from None


def _check_same_trainable(module, saved: list[str], path: Path) -> None:
    current = {n for n, p in module.named_parameters() if p.requires_grad}
    missing, unexpected = sorted(current - set(saved)), sorted(set(saved) - current)
    if missing or unexpected:
        raise RuntimeError(
            f"checkpoint {path} does not fit this model: trainable parameters missing from it "
            f"{missing[:8]} ({len(missing)}), in it but not trainable here {unexpected[:8]} "
            f"({len(unexpected)})"
        )


def load_trainable(saved: dict, module, path: Path) -> None:
    """Load the module states DeepSpeed read from ``path`` into ``module``: every trainable tensor
    must be there and nothing may be there that the module lacks; both are named, by module role."""
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    known = set(module.state_dict().keys())
    missing, unexpected = sorted(trainable - saved.keys()), sorted(saved.keys() - known)
    if missing or unexpected:
        raise CheckpointFileError(
            f"checkpoint {path} does not hold what this model trains: "
            f"{_by_role(module, missing, 'missing')}{_by_role(module, unexpected, 'unknown')}"
        )
    result = module.load_state_dict(saved, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys  # checked above


def _by_role(module, names: list[str], what: str) -> str:
    if not names:
        return ""
    role_of = getattr(module, "role_of", lambda name: name.rpartition(".")[0] or name)
    roles: dict[str, list[str]] = {}
    for name in names:
        roles.setdefault(role_of(name), []).append(name)
    listed = "; ".join(f"{role} ({len(keys)} tensors, e.g. {keys[0]})" for role, keys in sorted(roles.items()))
    return f"{what}: {listed}. "
