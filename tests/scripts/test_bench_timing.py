"""The one interleaved timer every benchmark uses (``moka_train.bench.timing``), on a fake clock:
who runs when, what is timed, and each statistic, exactly."""

import random

import pytest

from moka_train.bench.timing import Schedule, interleaved_samples, interleaved_times


class Machine:
    """A clock that only moves when a candidate runs: each call of a candidate costs the next of
    its ``costs``; every event is logged in order."""

    def __init__(self, costs: dict[str, list[float]]) -> None:
        self.now, self.events = 0.0, []
        self.costs = {name: iter(values) for name, values in costs.items()}

    def clock(self) -> float:
        self.events.append("clock")
        return self.now

    def candidates(self) -> dict:
        return {name: (lambda name=name: self.call(name)) for name in self.costs}

    def call(self, name: str) -> None:
        self.events.append(name)
        self.now += next(self.costs[name])

    def calls(self) -> list[str]:
        return [e for e in self.events if e in self.costs]


def test_round_robin_with_warmup_and_every_statistic():
    costs = {"a": [100.0, 1.0, 2.0, 6.0], "b": [50.0, 4.0, 4.0, 1.0]}  # the first round warms up
    machine = Machine(costs)
    samples = interleaved_samples(machine.candidates(), Schedule(rounds=3, warmup=1), clock=machine.clock)
    assert machine.calls() == ["a", "b"] * 4
    assert samples == {"a": [1.0, 2.0, 6.0], "b": [4.0, 4.0, 1.0]}
    expected = {"median": {"a": 2.0, "b": 4.0}, "mean": {"a": 3.0, "b": 3.0}, "min": {"a": 1.0, "b": 1.0}}
    expected["sum"] = {"a": 9.0, "b": 9.0}
    for statistic, want in expected.items():
        machine = Machine(costs)
        schedule = Schedule(rounds=3, warmup=1, statistic=statistic)
        assert interleaved_times(machine.candidates(), schedule, clock=machine.clock) == want, statistic


def test_a_block_runs_its_calls_in_a_row_and_reports_their_mean():
    machine = Machine({"a": [9.0, 9.0, 1.0, 3.0], "b": [9.0, 9.0, 2.0, 2.0]})
    schedule = Schedule(rounds=1, warmup=1, block=2)
    assert interleaved_samples(machine.candidates(), schedule, clock=machine.clock) == {"a": [2.0], "b": [2.0]}
    assert machine.calls() == ["a", "a", "b", "b", "a", "a", "b", "b"]


def test_shuffled_order_is_a_new_seeded_order_each_round():
    names = ["a", "b", "c", "d"]
    machine = Machine({name: [1.0] * 6 for name in names})
    interleaved_samples(machine.candidates(), Schedule(rounds=5, order="shuffled", seed=3), clock=machine.clock)
    rng = random.Random(3)
    expected = [rng.sample(names, len(names)) for _ in range(6)]
    rounds = [machine.calls()[i : i + 4] for i in range(0, 24, 4)]
    assert rounds == expected
    assert len({tuple(r) for r in rounds}) > 1  # not one fixed rotation


def test_sync_and_probe_stay_outside_the_timed_span():
    machine = Machine({"a": [1.0, 1.0]})

    class Probe:
        def before(self, name):
            machine.events.append(f"before {name}")

        def after(self, name, timed):
            machine.events.append(f"after {name} timed={timed}")

    schedule = Schedule(rounds=1, warmup=1)
    sync = lambda: machine.events.append("sync")  # noqa: E731
    interleaved_samples(machine.candidates(), schedule, sync=sync, probe=Probe(), clock=machine.clock)
    turn = ["sync", "before a", "clock", "a", "sync", "clock"]
    assert machine.events == [*turn, "after a timed=False", *turn, "after a timed=True"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("order", "random", r"Schedule.order must be one of \['round_robin', 'shuffled'\], got 'random'"),
        ("statistic", "p90", r"Schedule.statistic must be one of \['median', 'mean', 'min', 'sum'\], got 'p90'"),
        ("rounds", 0, r"Schedule.rounds must be at least 1, got 0"),
        ("block", 0, r"Schedule.block must be at least 1, got 0"),
        ("warmup", -1, r"Schedule.warmup must be at least 0, got -1"),
    ],
)
def test_a_bad_schedule_names_the_field_and_the_allowed_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        Schedule(**{"rounds": 2, field: value})
