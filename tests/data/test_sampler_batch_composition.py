"""Which samples share an optimizer step must not depend on their lengths: a length includes the
answer's tokens, so a length-sorted batch is an answer-sorted batch (issue 17: the demo's tone
batches were all "high" or all "low", and the audio path never learned)."""

from __future__ import annotations

import random

import pytest

from moka_train.data.sampler import GroupedDistributedSampler

N, BATCH = 200, 4


def step_sets(lengths: list[int], world_size: int) -> list[frozenset[int]]:
    """The samples of each optimizer step (every rank's micro-batch of that step)."""
    orders = [
        GroupedDistributedSampler(
            lengths, ["audio+video"] * N, BATCH, rank=r, world_size=world_size, seed=3
        ).rank_order(0)
        for r in range(world_size)
    ]
    steps = len(orders[0]) // BATCH
    return [frozenset(i for o in orders for i in o[k * BATCH : (k + 1) * BATCH]) for k in range(steps)]


@pytest.mark.parametrize("world_size", [1, 2])
def test_step_composition_is_independent_of_lengths(world_size):
    rng = random.Random(5)
    labels = [rng.choice([0, 1]) for _ in range(N)]
    answer_lengths = [82 + label for label in labels]  # "low" is one token, "high" two
    assert step_sets(answer_lengths, world_size) == step_sets([82] * N, world_size)


def test_steps_mix_answers_whose_lengths_differ():
    rng = random.Random(5)
    labels = [rng.choice([0, 1]) for _ in range(N)]
    steps = step_sets([82 + label for label in labels], 1)
    mixed = sum(len({labels[i] for i in step}) == 2 for step in steps) / len(steps)
    # a random batch of 4 holds both answers with probability 1 - 2 / 2**4 = 0.875
    assert mixed > 0.7, f"only {mixed:.2f} of the steps hold both answers"
