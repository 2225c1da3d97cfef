"""Sampler: deterministic, resumes at the same sample mid-epoch, ranks disjoint, batches hold
one modality signature."""

from __future__ import annotations

import random

import pytest

from moka_train.data.sampler import GroupedDistributedSampler

N = 96


@pytest.fixture
def data():
    rng = random.Random(1)
    lengths = [rng.randint(10, 500) for _ in range(N)]
    signatures = [["audio+video", "image", "speech"][i % 3] for i in range(N)]
    return lengths, signatures


def make(data, **kw):
    lengths, signatures = data
    return GroupedDistributedSampler(lengths, signatures, batch_size=4, seed=7, **kw)


def test_resume_mid_epoch_continues_at_the_same_sample(data):
    reference = make(data)
    reference.set_epoch(2)
    full = list(reference)
    run = make(data)
    run.set_epoch(2)
    it = iter(run)
    first = [next(it) for _ in range(13)]
    state = run.state_dict()
    assert state["epoch"] == 2 and state["position"] == 13
    resumed = make(data)  # a fresh process after a restart
    resumed.load_state_dict(state)
    assert first + list(resumed) == full
    resumed.set_epoch(3)  # the next epoch starts from its beginning, in a new order
    nxt = list(resumed)
    assert len(nxt) == len(full) and nxt != full


def test_consumed_overrides_prefetched_position(data):
    run = make(data)
    it = iter(run)
    [next(it) for _ in range(12)]  # a loader prefetched 12, the trainer consumed 8
    resumed = make(data)
    resumed.load_state_dict(run.state_dict(consumed=8))
    assert list(resumed) == make(data).rank_order(0)[8:]


def test_state_from_another_run_is_refused(data):
    state = make(data).state_dict()
    with pytest.raises(ValueError, match="does not match"):
        make(data, world_size=2).load_state_dict(state)


def test_ranks_are_disjoint_and_cover_everything(data):
    orders = [list(make(data, rank=r, world_size=4)) for r in range(4)]
    assert all(len(o) == len(orders[0]) for o in orders)
    seen = [i for o in orders for i in o]
    assert len(seen) == len(set(seen)) == N


def test_each_step_has_one_signature_on_every_rank(data):
    _, signatures = data
    orders = [list(make(data, rank=r, world_size=2)) for r in range(2)]
    for step in range(len(orders[0]) // 4):
        sigs = {signatures[i] for o in orders for i in o[step * 4 : (step + 1) * 4]}
        assert len(sigs) == 1


def test_batches_are_grouped_by_length(data):
    lengths, _ = data
    order = list(make(data, mega_batches=100))
    spread = sum(
        max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in (order[k : k + 4] for k in range(0, N, 4))
    )
    unsorted = sum(
        max(lengths[i] for i in b) - min(lengths[i] for i in b)
        for b in (list(range(N))[k : k + 4] for k in range(0, N, 4))
    )
    assert spread < unsorted / 3


def test_deterministic_from_seed_and_epoch(data):
    assert list(make(data)) == list(make(data))
    other = make(data)
    other.seed = 8
    assert list(other) != list(make(data))


def test_uneven_groups_pad_every_rank_to_full_batches():
    sampler = [
        GroupedDistributedSampler([1] * 10, ["a"] * 7 + ["b"] * 3, batch_size=2, rank=r, world_size=2) for r in range(2)
    ]
    orders = [list(s) for s in sampler]
    assert len(orders[0]) == len(orders[1]) == len(sampler[0]) == 6
    assert set(orders[0]) | set(orders[1]) == set(range(10))
