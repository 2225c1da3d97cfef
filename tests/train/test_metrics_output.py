"""What a user sees of a run: one progress line per logged step, loss PNGs with a smoothed line."""

import re

import pytest

from moka_train.train.metrics import MetricsLogger, smoothed


def progress_lines(text: str, stage: str) -> list[str]:
    return [line for line in text.replace("\r", "\n").splitlines() if line.startswith(f"{stage}:")]


def test_every_logged_step_draws_its_progress_line_once(tmp_path, capsys):
    logger = MetricsLogger(tmp_path, "demo_stage", 3, "disabled", {})
    for step in (1, 2, 3):
        logger.log(step, {"loss": 1.0 / step, "lr": 1e-3, "tokens_per_s": 10.0})
    png = logger.close()
    lines = progress_lines(capsys.readouterr().err, "demo_stage")
    # the bar as it opens (0/3), one line per step, and the bar as it closes
    assert [re.search(r"\| *(\d+/\d+) ", line).group(1) for line in lines] == ["0/3", "1/3", "2/3", "3/3", "3/3"]
    assert png == tmp_path / "loss_demo_stage.png" and png.read_bytes()[:4] == b"\x89PNG"


def test_smoothed_is_a_centred_moving_average():
    assert smoothed([1.0, 2.0, 6.0, 3.0], half_width=1) == pytest.approx([1.5, 3.0, 11 / 3, 4.5])
    assert smoothed([4.0, 0.0, 4.0, 0.0, 4.0], half_width=2) == pytest.approx([8 / 3, 2.0, 2.4, 2.0, 8 / 3])
    assert smoothed([3.0, 1.0]) == [3.0, 1.0]  # short curves: the default window is the point itself
    assert len(smoothed([1.0] * 96)) == 96 and smoothed([1.0] * 96) == pytest.approx([1.0] * 96)
