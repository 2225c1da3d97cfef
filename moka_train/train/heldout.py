"""The held-out loss of a stage every ``train.eval_every`` optimizer steps (``data.eval_file`` or the
stage's own ``eval_file``): the same forward as training, without gradients or dropout."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .data import StageData
from .loop import to_device
from .reduction import answer_tokens, step_loss


def heldout_loss(engine, data: StageData, reduction: str, max_batches: int | None = None) -> float:
    """The loss over the held-out batches (the first ``max_batches`` of them where given), reduced
    as training reduces it (``train.loss_reduction``), over every rank. The train mode of the
    module is put back afterwards; the RNG is untouched (no dropout in eval mode)."""
    was_training = engine.module.training
    engine.module.eval()
    losses, tokens = [], []
    try:
        with torch.no_grad():
            for index, batch in enumerate(data.loader(0, 0)):
                if max_batches is not None and index >= max_batches:
                    break
                tokens.append(answer_tokens(batch))
                losses.append(float(engine(to_device(batch, engine.device))["loss"]))
    finally:
        engine.module.train(was_training)
    if not losses:
        raise ValueError(
            f"held-out data {data.dataset.report.split}: no full micro-batch of {data.micro_batch} samples to evaluate"
        )
    return step_loss(losses, tokens, reduction)


def make_evaluator(engine, data: StageData | None, reduction: str, max_batches: int | None) -> Callable | None:
    if data is None:
        return None
    return lambda: heldout_loss(engine, data, reduction, max_batches)
