"""optim.schedule: warmup_decay is DeepSpeed's WarmupDecayLR as the official AVT JSON runs it.

Both schedules drive a dummy optimizer the way the DeepSpeed engine does (built, then stepped
after every update); the lr each update uses is compared with DeepSpeed's own object, its
"auto" values filled as HF fills them: warmup_min_lr 0, warmup_max_lr = lr, total_num_steps =
the run's steps, warmup_num_steps = ceil(warmup_ratio × total).
"""

import math

import pytest
import torch
from deepspeed.runtime.lr_schedules import WarmupDecayLR

from moka_train.config.schema import OptimConfig
from moka_train.train.engine import lr_schedule

LR = 1e-4


def lrs_per_update(make_scheduler, total: int) -> list[float]:
    """The lr of updates 0 .. total-1, the scheduler stepped after each update as DeepSpeed does."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    scheduler = make_scheduler(optimizer)
    seen = []
    for _ in range(total):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


@pytest.mark.parametrize(("total", "ratio"), [(100, 0.03), (4221, 0.03), (60, 0.25)])
def test_warmup_decay_equals_deepspeeds_warmup_decay_lr(total, ratio):
    warmup = math.ceil(ratio * total)
    optim = OptimConfig(lr=LR, warmup_ratio=ratio, schedule="warmup_decay")
    ours = lrs_per_update(lambda opt: lr_schedule(opt, optim, total), total)
    theirs = lrs_per_update(
        lambda opt: WarmupDecayLR(
            opt, total_num_steps=total, warmup_min_lr=0.0, warmup_max_lr=LR, warmup_num_steps=warmup
        ),
        total,
    )
    for step in (0, 1, 10, warmup, total - 1):
        assert ours[step] == pytest.approx(theirs[step], rel=1e-12, abs=1e-18), step
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-18)
    # the shape the issue describes: log warmup (well above linear early on), then linear decay
    assert ours[warmup] == pytest.approx(LR)
    assert ours[2] > 2 / (warmup + 1) * LR
    assert ours[-1] < ours[-2] < ours[warmup + 1]


def test_cosine_is_not_warmup_decay():
    """The recipes' schedule key matters: the default cosine gives another curve."""
    total = 100
    cosine = lrs_per_update(lambda opt: lr_schedule(opt, OptimConfig(lr=LR), total), total)
    decay = lrs_per_update(lambda opt: lr_schedule(opt, OptimConfig(lr=LR, schedule="warmup_decay"), total), total)
    assert abs(cosine[30] - decay[30]) > 0.05 * LR  # cosine stays higher early in the decay
