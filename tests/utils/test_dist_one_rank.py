"""One rank in an initialised process group: the loop's agreement check needs no collective (a
collective's .item() is a host sync per step), and a child process started afterwards does not
inherit the port the group listens on (tests/conftest.py restores MASTER_PORT)."""

import pytest
import torch.distributed as dist

from moka_train.utils.dist import all_reduce_mean, all_true, init_distributed


@pytest.fixture
def one_rank_group():
    init_distributed()  # idempotent: an earlier test of this process may have done it
    assert dist.is_initialized() and dist.get_world_size() == 1


def test_one_rank_agrees_with_itself_without_a_collective(one_rank_group, monkeypatch):
    def collective(*args, **kwargs):
        raise AssertionError("a collective (and its host sync) for a world of one rank")

    monkeypatch.setattr(dist, "all_reduce", collective)
    assert all_true(True) is True and all_true(False) is False
    assert all_reduce_mean(2.5) == 2.5
