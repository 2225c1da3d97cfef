"""The loop's guards: a non-finite loss skips the micro-batch (counted); K in a row abort, naming
the step. A minimal stand-in for the DeepSpeed engine interface drives a real torch module."""

import pytest
import torch

from moka_train.train.loop import LoopHooks, LoopSettings, LoopState, NonFiniteLossError, train_stage


class PlainEngine:
    """forward / backward / step / get_lr / device, as deepspeed.DeepSpeedEngine offers them."""

    def __init__(self, poisoned: set[int]):
        torch.manual_seed(0)
        self.module = torch.nn.Linear(4, 1)
        self.optimizer = torch.optim.SGD(self.module.parameters(), lr=0.1)
        self.device = torch.device("cpu")
        self.poisoned, self.calls, self.steps = poisoned, 0, 0

    def __call__(self, batch):
        self.calls += 1
        loss = self.module(batch["x"]).pow(2).mean()
        return {"loss": loss * float("nan") if self.calls in self.poisoned else loss}

    def backward(self, loss):
        loss.backward()

    def step(self):
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.steps += 1

    def get_lr(self):
        return [0.1]


class Recorder:
    def __init__(self):
        self.rows = []

    def log(self, step, values):
        self.rows.append((step, values["loss"], values["nonfinite_skipped"]))


def loader(epoch, position):
    gen = torch.Generator().manual_seed(epoch)
    for _ in range(position, 10):
        yield {"x": torch.randn(2, 4, generator=gen), "modality_ids": torch.zeros(2, 3, dtype=torch.long)}


def run(engine, steps, limit=3):
    state, metrics, saves = LoopState(), Recorder(), []
    settings = LoopSettings(
        total_steps=steps,
        modality_names=(),
        grad_accum=1,
        log_every=1,
        save_every=100,
        max_nonfinite_in_row=limit,
        loss_reduction="sample",
    )
    train_stage(engine, state, settings, LoopHooks(loader, lambda s: saves.append(s.step), metrics))
    return state, metrics, saves


def test_nonfinite_micro_batch_is_skipped_and_counted():
    engine = PlainEngine(poisoned={2})
    state, metrics, saves = run(engine, steps=5)
    assert state.step == 5 and engine.steps == 5  # the poisoned batch made no update
    assert state.nonfinite_total == 1 and state.position == 6
    assert all(torch.isfinite(torch.tensor(loss)) for _, loss, _ in metrics.rows)
    assert metrics.rows[-1][2] == 1 and saves == [5]


def test_k_nonfinite_in_a_row_abort_naming_the_step():
    engine = PlainEngine(poisoned={3, 4, 5})
    with pytest.raises(NonFiniteLossError, match="3 non-finite losses in a row; the last before optimizer step 3"):
        run(engine, steps=8, limit=3)


def test_settings_come_from_the_train_section_and_a_held_out_hook_needs_its_interval():
    from moka_train.config.sections.train import TrainConfig

    train = TrainConfig(grad_accum=2, log_every=3, save_every=7, stop_after=5, eval_every=4, loss_reduction="token")
    settings = LoopSettings.from_train(train, total_steps=9, modality_names=["video", "audio"])
    assert settings == LoopSettings(9, ("video", "audio"), 2, 3, 7, train.max_nonfinite_in_row, "token", 5, 4)
    no_interval = LoopSettings(9, (), 1, 1, 100, 3, "sample")
    hooks = LoopHooks(loader, lambda s: None, Recorder(), evaluate=lambda: 0.0)
    with pytest.raises(ValueError, match="evaluate hook needs settings.eval_every"):
        train_stage(PlainEngine(poisoned=set()), LoopState(), no_interval, hooks)


# where each LoopSettings field comes from: the stage (its length, its modalities) or one train.* key
FROM_STAGE = {"total_steps", "modality_names"}
FROM_TRAIN = {
    "grad_accum": "grad_accum",
    "log_every": "log_every",
    "save_every": "save_every",
    "max_nonfinite_in_row": "max_nonfinite_in_row",
    "loss_reduction": "loss_reduction",
    "stop_after": "stop_after",
    "eval_every": "eval_every",
}


def test_every_loop_setting_comes_from_its_named_train_key_and_none_by_a_matching_name():
    from dataclasses import dataclass, fields

    from moka_train.config.sections.train import TrainConfig

    assert {f.name for f in fields(LoopSettings)} == FROM_STAGE | set(FROM_TRAIN)  # a new field: name its source
    values = {
        "grad_accum": 3,
        "log_every": 4,
        "save_every": 5,
        "max_nonfinite_in_row": 6,
        "loss_reduction": "token",
        "stop_after": 7,
        "eval_every": 8,
    }  # every one differs from its default and from the others: a swapped or unset field shows
    assert all(getattr(TrainConfig(), key) != value for key, value in values.items())
    settings = LoopSettings.from_train(TrainConfig(**values), total_steps=9, modality_names=["video"])
    assert {field: getattr(settings, field) for field in FROM_TRAIN} == {f: values[k] for f, k in FROM_TRAIN.items()}
    assert (settings.total_steps, settings.modality_names) == (9, ("video",))

    @dataclass(frozen=True)
    class WithSeed(LoopSettings):  # a loop field that only shares its name with a train.* key
        seed: int = -1

    assert WithSeed.from_train(TrainConfig(seed=7), total_steps=9, modality_names=[]).seed == -1


def test_stop_after_returns_false_and_saves_at_the_stop_and_eval_rows_come_every_interval():
    engine, saves, metrics, evals = PlainEngine(poisoned=set()), [], Recorder(), []
    settings = LoopSettings(8, (), 1, 100, 100, 3, "sample", stop_after=6, eval_every=2)
    hooks = LoopHooks(loader, lambda s: saves.append(s.step), metrics, evaluate=lambda: evals.append(1) or 0.5)
    state = LoopState(step=1)
    assert train_stage(engine, state, settings, hooks) is False
    assert state.step == 7 and saves == [7] and engine.steps == 6
    assert [row[0] for row in metrics.rows] == [2, 4, 6] and len(evals) == 3
