"""How the loss of one optimizer step combines its micro-batches (``train.loss_reduction``).

The model returns each micro-batch's mean over its answer tokens. DeepSpeed divides every
backward by ``grad_accum`` and averages gradients over ranks, so by default a step optimises the
mean of the micro-batch means (``sample``): a 2-token answer in a short micro-batch weighs as much
as 40 tokens in another. This is what the official MokA trainer does (HF Trainer 4.37, whose
``compute_loss`` divides the model's per-batch mean by the accumulation steps).

``token`` weighs every answer token of the step alike, across micro-batches and ranks (as
torchtune normalises by the step's token count): micro-batch i of a window of ``grad_accum``
micro-batches on ``world`` ranks is scaled by ``n_i * grad_accum * world / N``, N the answer
tokens of the whole window on every rank, so the summed, averaged gradient is that of
``sum(loss_i * n_i) / N``. N is known before the first backward because the window's batches
are read ahead (they are host tensors until the loop moves them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from ..data.tokenize import IGNORE_INDEX
from ..utils.dist import all_reduce_mean, world_size

REDUCTIONS = ("sample", "token")


def answer_tokens(batch: dict) -> int:
    """Tokens the loss averages over: labels shifted by one, as the causal LM's loss shifts them."""
    return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


def loss_weights(
    tokens: list[int], reduction: str, grad_accum: int, ranks: int, total: int | None = None
) -> list[float]:
    """The factor of each micro-batch's mean loss; ``total``: the window's tokens on every rank
    (this rank's ``sum(tokens)`` times ``ranks`` when not given)."""
    if reduction == "sample":
        return [1.0] * len(tokens)
    total = total if total is not None else sum(tokens) * ranks
    return [n * grad_accum * ranks / max(total, 1) for n in tokens]


def weighted_batches(batches: Iterable[dict], reduction: str, grad_accum: int) -> Iterator[tuple[dict, float]]:
    """(batch, loss factor) pairs; under ``token``, read ahead by windows of ``grad_accum``.

    A window cut short by the end of an epoch, or one in which a non-finite micro-batch is
    skipped, still divides by its own token count: its factors are exact for the batches it holds."""
    if reduction == "sample":
        for batch in batches:
            yield batch, 1.0
        return
    iterator, ranks = iter(batches), world_size()
    while True:
        window = [b for _, b in zip(range(grad_accum), iterator)]
        if not window:
            return
        tokens = [answer_tokens(b) for b in window]
        # every rank reads the same number of micro-batches per window (the sampler pads ranks evenly)
        total = round(all_reduce_mean(float(sum(tokens))) * ranks)
        yield from zip(window, loss_weights(tokens, reduction, grad_accum, ranks, total))


def step_loss(losses: list[float], tokens: list[int], reduction: str) -> float:
    """The loss of one optimizer step over every rank, reduced as the gradient was."""
    if reduction == "sample":
        return all_reduce_mean(sum(losses) / len(losses))
    weighted = all_reduce_mean(sum(loss * n for loss, n in zip(losses, tokens)))
    return weighted / max(all_reduce_mean(float(sum(tokens))), 1e-12)


def scaled(loss: torch.Tensor, weight: float) -> torch.Tensor:
    return loss if weight == 1.0 else loss * weight
