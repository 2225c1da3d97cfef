"""What a user sees of a run: metrics.jsonl, a progress bar, wandb (offline by default), loss PNGs."""

from __future__ import annotations

import time
from pathlib import Path

from ..utils.dist import is_main
from ..utils.jsonl import append_jsonl, read_objects, write_jsonl
from ..utils.logging import get_logger

log = get_logger(__name__)
METRICS_FILE = "metrics.jsonl"


class MetricsLogger:
    """Rank 0 writes; other ranks call the same methods and nothing happens."""

    def __init__(
        self, output_dir: str | Path, stage: str, total_steps: int, wandb_mode: str, config: dict, start_step: int = 0
    ) -> None:
        self.output_dir = Path(output_dir)
        self.stage = stage
        self.active = is_main()
        self.bar = None
        self.run = None
        self.started = time.perf_counter()
        if not self.active:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.output_dir / METRICS_FILE
        if start_step and self.path.is_file():
            _forget_after(self.path, stage, start_step)
        from tqdm import tqdm

        self.bar = tqdm(total=total_steps, initial=start_step, desc=stage, dynamic_ncols=True)
        if wandb_mode != "disabled":
            self.run = _start_wandb(self.output_dir, stage, wandb_mode, config)

    def log(self, step: int, values: dict) -> None:
        if not self.active:
            return
        append_jsonl(self.path, [{"stage": self.stage, "step": step, **values}])
        if self.run is not None:
            self.run.log({f"{self.stage}/{k}": v for k, v in values.items() if isinstance(v, (int, float))}, step=step)
        if self.bar is not None:
            self.bar.n = step
            # refresh=False: set_postfix would draw the bar too, and every step would print twice
            self.bar.set_postfix(
                loss=f"{values['loss']:.4f}",
                lr=f"{values['lr']:.2e}",
                tok_s=f"{values.get('tokens_per_s', 0):.0f}",
                data_wait=f"{values.get('data_wait_share', 0):.0%}",
                refresh=False,
            )
            self.bar.refresh()

    def close(self) -> Path | None:
        if not self.active:
            return None
        if self.bar is not None:
            self.bar.close()
        if self.run is not None:
            self.run.finish()
        return plot_loss_curve(self.path, self.stage, self.output_dir / f"loss_{self.stage}.png")


def _forget_after(path: Path, stage: str, step: int) -> None:
    """Resuming ``stage`` from ``step``: its rows logged after that step (by the run that was
    stopped before its next checkpoint) are trained again, so they go; the file keeps each step once."""
    rows = [row for _, row in read_objects(path, what="a metrics row", file_kind="metrics file")]
    kept = [r for r in rows if not (r.get("stage") == stage and r.get("step", 0) > step)]
    if len(kept) != len(rows):
        write_jsonl(path, kept)
        log.info("%s: %d rows of %s after step %d dropped (trained again)", path, len(rows) - len(kept), stage, step)


def _start_wandb(output_dir: Path, stage: str, mode: str, config: dict):
    try:
        import wandb

        return wandb.init(
            project="moka-train",
            name=f"{output_dir.name}-{stage}",
            dir=str(output_dir),
            mode=mode,
            config=config,
            reinit="finish_previous",
        )
    except Exception as err:  # a tracking service must never stop a training run
        log.warning("wandb disabled: %s", err)
        return None


def read_metrics(path: str | Path, stage: str | None = None) -> list[dict]:
    rows = [row for _, row in read_objects(path, what="a metrics row", file_kind="metrics file")]
    return [r for r in rows if stage is None or r["stage"] == stage]


def smoothed(values: list[float], half_width: int | None = None) -> list[float]:
    """Centred moving average: point k is the mean of the points within ``half_width`` of it
    (fewer at the ends), so the line follows the curve without the lag of a running average.
    The default window spans about a tenth of the curve."""
    if half_width is None:
        half_width = len(values) // 20
    prefix = [0.0]
    for value in values:
        prefix.append(prefix[-1] + value)
    out = []
    for k in range(len(values)):
        lo, hi = max(0, k - half_width), min(len(values), k + half_width + 1)
        out.append((prefix[hi] - prefix[lo]) / (hi - lo))
    return out


def plot_loss_curve(metrics_path: Path, stage: str, png: Path) -> Path | None:
    rows = read_metrics(metrics_path, stage) if metrics_path.is_file() else []
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, loss = [r["step"] for r in rows], [r["loss"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, loss, lw=0.8, alpha=0.35, color="tab:blue", label="per step")
    ax.plot(steps, smoothed(loss), lw=2.0, color="tab:blue", label="smoothed")
    held_out = [(r["step"], r["eval_loss"]) for r in rows if "eval_loss" in r]
    if held_out:  # train.eval_every: the held-out loss beside the training loss
        ax.plot(*zip(*held_out), "o-", lw=1.5, color="tab:orange", label="held-out")
    ax.set(xlabel="optimizer step", ylabel="loss", title=f"{stage}: training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png
