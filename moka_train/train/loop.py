"""The training loop of one stage: forward, engine.backward, engine.step; guards; logging; saves."""

from __future__ import annotations

import math
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from ..modality import FIRST_MEDIA
from ..utils.dist import all_true
from ..utils.logging import get_logger
from .reduction import answer_tokens, scaled, step_loss, weighted_batches

if TYPE_CHECKING:
    from ..config.sections.train import TrainConfig

log = get_logger(__name__)


class NonFiniteLossError(RuntimeError):
    pass


@dataclass
class LoopState:
    """Everything the loop needs to continue exactly where it stopped (saved in checkpoints)."""

    step: int = 0  # optimizer steps done in this stage
    epoch: int = 0
    position: int = 0  # micro-batches consumed in this epoch, by this rank
    nonfinite_total: int = 0
    nonfinite_in_row: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


# host tensors that size things (routing widths, splice counts, answer positions, audio windows,
# whether a mask is needed):
# the model reads them from batch["host"] instead of waiting for the device to report them
HOST_KEYS = ("modality_ids", "labels", "media_lengths", "attention_mask")


def to_device(batch, device):
    """The batch on ``device`` (asynchronous copies from pinned memory), with its host copies of
    ``HOST_KEYS`` kept under ``"host"``."""
    moved = _moved(batch, device)
    if isinstance(batch, dict) and "modality_ids" in batch:
        moved["host"] = {key: batch[key] for key in HOST_KEYS if key in batch}
    return moved


def _moved(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _moved(v, device) for k, v in batch.items()}
    return batch


def tokens_per_modality(modality_ids: torch.Tensor, names: list[str]) -> dict[str, int]:
    counts = torch.bincount((modality_ids + 1).flatten(), minlength=FIRST_MEDIA + 1 + len(names)).tolist()
    out = {"text": counts[1], "query": counts[2]}  # shifted by one: index 0 is padding
    out.update({name: counts[FIRST_MEDIA + 1 + i] for i, name in enumerate(names)})
    return out


@dataclass(frozen=True)
class LoopSettings:
    """The fixed settings of one stage's loop: its length (``total_steps``, from the data and
    ``train.max_steps``), the modality names counted in the token metrics, and ``train.*``."""

    total_steps: int
    modality_names: tuple[str, ...]
    grad_accum: int
    log_every: int
    save_every: int
    max_nonfinite_in_row: int
    loss_reduction: str
    stop_after: int | None = None  # steps this call makes at most (a time-limited job)
    eval_every: int | None = None  # held-out loss every N steps; None: no held-out loss

    @classmethod
    def from_train(cls, train: TrainConfig, total_steps: int, modality_names) -> LoopSettings:
        """The stage's length and modality names, every other setting from its ``train.*`` key, named
        one by one: a renamed key fails here, and no field is ever filled by a name that happens to match."""
        return cls(
            total_steps=total_steps,
            modality_names=tuple(modality_names),
            grad_accum=train.grad_accum,
            log_every=train.log_every,
            save_every=train.save_every,
            max_nonfinite_in_row=train.max_nonfinite_in_row,
            loss_reduction=train.loss_reduction,
            stop_after=train.stop_after,
            eval_every=train.eval_every,
        )


@dataclass(frozen=True)
class LoopHooks:
    """What the loop calls out to. ``make_loader(epoch, position)`` yields the micro-batches of an
    epoch from ``position`` on (mid-epoch resume); ``save(state)`` writes a complete checkpoint;
    ``metrics.log(step, values)`` records a row; ``evaluate()`` returns the held-out loss."""

    make_loader: Callable[[int, int], Iterable[dict]]
    save: Callable[[LoopState], None]
    metrics: Any
    evaluate: Callable[[], float] | None = None


@dataclass
class _Progress:
    """What the loop gathers between two log lines (the losses: within one optimizer step)."""

    last_logged: int
    losses: list[float] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    tokens: Counter = field(default_factory=Counter)
    waited_s: float = 0.0  # seconds spent waiting for the loader since the last log line
    started: float = field(default_factory=time.perf_counter)
    micro: int = 0  # finite micro-batches stepped in this call


def train_stage(engine, state: LoopState, settings: LoopSettings, hooks: LoopHooks) -> bool:
    """Run until ``state.step == settings.total_steps`` (returns True) or, with ``stop_after``,
    until this call has made that many steps (returns False). The held-out loss runs every
    ``eval_every`` steps and at the end, logged in the row of that step."""
    if hooks.evaluate is not None and settings.eval_every is None:
        raise ValueError("train_stage: an evaluate hook needs settings.eval_every (train.eval_every)")
    progress = _Progress(last_logged=state.step)
    first = state.step
    stop_at = first + settings.stop_after if settings.stop_after else None
    while state.step < settings.total_steps:
        batches = timed_batches(hooks.make_loader(state.epoch, state.position), progress)
        for batch, weight in weighted_batches(batches, settings.loss_reduction, settings.grad_accum):
            state.position += 1
            if not _micro_step(engine, batch, weight, state, settings, progress):
                continue
            state.step += 1
            _end_step(engine, state, settings, hooks, progress)
            if state.step % settings.save_every == 0 or state.step in (settings.total_steps, stop_at):
                hooks.save(state)
            if state.step >= settings.total_steps:
                return True
            if state.step == stop_at:
                log.info("stopping after %d steps as asked (train.stop_after); resume=auto continues", stop_at - first)
                return False
        state.epoch += 1
        state.position = 0
    return True


def _micro_step(engine, batch, weight, state: LoopState, settings: LoopSettings, progress: _Progress) -> bool:
    """Forward, backward and engine step of one micro-batch (skipped when its loss is not finite);
    True when it completes an optimizer step (every ``grad_accum`` finite micro-batches)."""
    # counted on the host copy: .tolist() on a GPU tensor would sync every micro-step
    counts = tokens_per_modality(batch["modality_ids"], settings.modality_names)
    answer_count = answer_tokens(batch) if settings.loss_reduction == "token" else 0
    loss = engine(to_device(batch, engine.device))["loss"]
    value = loss.item()  # the one device sync of a micro-step: a non-finite loss must skip its backward
    if not _finite_everywhere(value, state, settings.max_nonfinite_in_row):
        return False
    engine.backward(scaled(loss, weight))
    engine.step()
    progress.losses.append(value)
    progress.answers.append(answer_count)
    progress.tokens.update(counts)
    progress.micro += 1
    return progress.micro % settings.grad_accum == 0


def _end_step(engine, state: LoopState, settings: LoopSettings, hooks: LoopHooks, progress: _Progress) -> None:
    """Close an optimizer step: its loss, and the metrics row (with the held-out loss) when due."""
    losses, answers = progress.losses, progress.answers
    progress.losses, progress.answers = [], []
    last = state.step == settings.total_steps
    due_eval = hooks.evaluate is not None and (state.step % settings.eval_every == 0 or last)
    if not (state.step % settings.log_every == 0 or last or due_eval):
        return
    loss_of_step = step_loss(losses, answers, settings.loss_reduction)  # collectives on logged steps only
    elapsed = time.perf_counter() - progress.started
    extra = {"eval_loss": hooks.evaluate()} if due_eval else {}
    progress.started = time.perf_counter()  # the held-out pass is not training time
    steps = state.step - progress.last_logged
    hooks.metrics.log(
        state.step,
        {
            "loss": loss_of_step,
            **extra,
            "lr": engine.get_lr()[0],
            "tokens_per_s": sum(progress.tokens.values()) / max(elapsed, 1e-9),
            "step_s": elapsed / steps,
            "data_wait_s": progress.waited_s / steps,
            "data_wait_share": progress.waited_s / max(elapsed, 1e-9),
            "tokens": dict(progress.tokens),
            "nonfinite_skipped": state.nonfinite_total,
            **peak_memory_mb(),
        },
    )
    progress.tokens, progress.last_logged, progress.waited_s = Counter(), state.step, 0.0


def timed_batches(batches, progress: _Progress):
    """The batches of ``batches``, adding the seconds each took to arrive to ``progress.waited_s``
    (the time the step waited for data: decoding not hidden by the loader's workers)."""
    iterator = iter(batches)
    while True:
        start = time.perf_counter()
        batch = next(iterator, None)
        progress.waited_s += time.perf_counter() - start
        if batch is None:
            return
        yield batch


def peak_memory_mb() -> dict[str, float]:
    """Peak host RSS of this process, and peak GPU memory where there is a GPU."""
    peak = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if torch.cuda.is_available():
        peak["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return peak


def _finite_everywhere(loss: float, state: LoopState, limit: int) -> bool:
    """All ranks agree to skip a micro-batch whose loss is not finite on any rank."""
    if all_true(math.isfinite(loss)):
        state.nonfinite_in_row = 0
        return True
    state.nonfinite_total += 1
    state.nonfinite_in_row += 1
    log.warning(
        "non-finite loss before step %d: micro-batch skipped (%d in a row)", state.step + 1, state.nonfinite_in_row
    )
    if state.nonfinite_in_row >= limit:
        raise NonFiniteLossError(
            f"{limit} non-finite losses in a row; the last before optimizer step "
            f"{state.step + 1}. Lower the learning rate or check the data."
        )
    return False


def steps_for(num_batches_per_epoch: int, epochs: float, grad_accum: int, max_steps: int | None) -> int:
    steps = max(1, math.ceil(num_batches_per_epoch * epochs / grad_accum))
    return min(steps, max_steps) if max_steps else steps
