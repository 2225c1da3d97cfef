"""The embedded CPU demo (`make demo`): the whole system, offline, in a few minutes.

1. writes a tiny workspace: a byte-level BPE tokenizer and a random LLaMA, a tiny CLIP and BEATs
   (each in its library's own format), and synthetic audio-visual clips (.mp4 + .wav): QA whose
   answers need the media, and one caption set per modality for the projector pretraining;
2. fills the feature cache (every frozen encoder runs once over every clip), then trains with
   configs/tiny_avqa.yaml through the real trainer: two stages pretrain the video and the audio
   projector on their captions (once: stage 1 trains no adapter, so every method starts from the
   same projectors, as in the paper's comparison), the third fine-tunes the adapters + projectors
   on the QA, once per method, from those exports (``init_from`` by path);
3. answers held-out questions with the exported weights, per question type, for each method;
   for MokA also with its adapters on all tokens, on the text tokens only, on the media tokens
   only (the paper's partial-modality probe, Fig. 1);
4. draws the accuracies beside chance and the loss curves (PNGs; their paths are printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# one thread, set before torch loads: the tiny matrices gain nothing from a second one, and on a
# busy machine two spinning OpenMP threads made every step several times slower
os.environ.setdefault("OMP_NUM_THREADS", "1")

from moka_train.config import load_config  # noqa: E402
from moka_train.eval.run import run_generation  # noqa: E402
from moka_train.testing.synthetic import make_synthetic  # noqa: E402
from moka_train.testing.workspace import build_tiny_workspace  # noqa: E402
from moka_train.train.feature_cache_writer import fill_feature_cache  # noqa: E402
from moka_train.train.metrics import read_metrics, smoothed  # noqa: E402
from moka_train.train.run import run  # noqa: E402
from moka_train.utils.jsonl import read_objects  # noqa: E402

CHANCE = {"colour": 1 / 4, "tone": 1 / 2, "direction": 1 / 2, "av_colour_tone": 1 / 8}
PROBES = {"all tokens": None, "text only": ["text"], "media only": ["video", "audio"]}
CONFIG = ROOT / "configs" / "tiny_avqa.yaml"
PRETRAIN = "run_pretrain"  # the shared stage-1 run, beside run_<method>


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="demo_out")
    parser.add_argument("--methods", nargs="+", default=["lora", "moka"])
    parser.add_argument("--train-samples", type=int, default=384)
    parser.add_argument("--heldout-samples", type=int, default=48)
    # 8 epochs (768 steps of 4): at 6, MokA's held-out colour stopped at 0.875 (red/yellow swapped)
    parser.add_argument("--epochs", type=float, default=8, help="fine-tuning epochs")
    parser.add_argument("--seed", type=int, default=0, help="training seed (initialisation, data order)")
    parser.add_argument("overrides", nargs="*", help="extra config overrides, e.g. adapter.rank=8")
    args = parser.parse_args()
    root = Path(args.output_dir).resolve()
    os.environ["DEMO_ROOT"] = str(root)
    if not (root / "llm" / "config.json").is_file():  # built once, reused by later demos
        build_tiny_workspace(root, seed=0, num_av=args.train_samples)
    held_out = root / "heldout"
    make_synthetic(held_out, seed=1, num_av=args.heldout_samples, num_image=0, num_speech=0, frames=8, size=32)
    fill_caches(config(root, "moka", args), held_out)
    pretrained = pretrain(root, args)
    table = {method: train_and_score(root, held_out, method, args, pretrained) for method in args.methods}
    probe = partial_modality_probe(root, held_out, args, pretrained) if "moka" in args.methods else {}
    pictures = [plot_accuracy(table, root / "accuracy.png"), plot_losses(root, args.methods, root / "losses.png")]
    print_report(table, probe, pictures)
    return 0


def config(root: Path, method: str, args):
    return load_config(
        CONFIG,
        [
            f"adapter.method={method}",
            f"output_dir={root / ('run_' + method)}",
            "overwrite=true",  # a rerun of the demo retrains from scratch
            f"stages.2.epochs={args.epochs}",
            f"train.seed={args.seed}",
            f"data.seed={args.seed}",
            f"data.feature_cache={root / 'feature_cache'}",
            *args.overrides,
        ],
    )


def pretrain(root: Path, args) -> list[Path]:
    """The projector-pretraining stages, run once into ``run_pretrain``; their export directories."""
    cfg = config(root, "moka", args)
    cfg = cfg.model_copy(update={"output_dir": str(root / PRETRAIN), "stages": cfg.stages[:-1]})
    run(cfg)
    return [root / PRETRAIN / "export" / stage.name for stage in cfg.stages]


def finetune_config(root: Path, method: str, args, pretrained: list[Path]):
    """The recipe's fine-tuning stage alone, starting from the shared pretrained projectors."""
    cfg = config(root, method, args)
    stage = cfg.stages[-1].model_copy(update={"init_from": tuple(str(p) for p in pretrained)})
    return cfg.model_copy(update={"stages": (stage,)})  # a tuple, as the schema types it (no serializer warning)


def fill_caches(cfg, held_out: Path) -> None:
    """Encode every training and held-out clip once (a cache hit costs no decoding, no encoder)."""
    fill_feature_cache(cfg)
    data = cfg.data.model_copy(
        update={"root": str(held_out), "train_file": str(held_out / "av_qa.jsonl"), "eval_file": None}
    )
    fill_feature_cache(cfg.model_copy(update={"data": data, "stages": cfg.stages[-1:]}))


def eval_config(cfg, held_out: Path):
    return cfg.model_copy(update={"data": cfg.data.model_copy(update={"root": str(held_out)})})


def answer(cfg, held_out: Path, name: str, adapter_modalities: list[str] | None) -> dict[str, float]:
    """Held-out accuracy per question type through `evaluate run` (its probe included)."""
    output = Path(cfg.output_dir) / f"predictions_heldout_{name}.jsonl"
    output.unlink(missing_ok=True)  # run_generation resumes from an existing file: start afresh
    export = Path(cfg.output_dir) / "export" / cfg.stages[-1].name
    run_generation(
        eval_config(cfg, held_out), export, held_out / "av_qa.jsonl", output, adapter_modalities=adapter_modalities
    )
    return score([row for _, row in read_objects(output)])


def train_and_score(root: Path, held_out: Path, method: str, args, pretrained: list[Path]) -> dict[str, float]:
    cfg = finetune_config(root, method, args, pretrained)
    run(cfg)
    return answer(cfg, held_out, "all", None)


def partial_modality_probe(root: Path, held_out: Path, args, pretrained: list[Path]) -> dict[str, dict[str, float]]:
    cfg = finetune_config(root, "moka", args, pretrained)
    return {label: answer(cfg, held_out, "-".join(names or ["all"]), names) for label, names in PROBES.items()}


def score(rows: list[dict]) -> dict[str, float]:
    """Exact-match accuracy per question type."""
    hits = defaultdict(list)
    for row in rows:
        hits[row["task"]].append(row["prediction"].strip().lower() == row["answer"].strip().lower())
    return {task: sum(v) / len(v) for task, v in sorted(hits.items())}


def accuracy_lines(title: str, table: dict[str, dict[str, float]], chance: bool) -> list[str]:
    tasks = sorted({t for acc in table.values() for t in acc})
    lines = ["", title, f"{'':<12}" + "".join(f"{t:>16}" for t in tasks)]
    rows = {**table, **({"chance": CHANCE} if chance else {})}
    for name, acc in rows.items():
        lines.append(f"{name:<12}" + "".join(f"{acc.get(t, float('nan')):>16.3f}" for t in tasks))
    return lines


def print_report(table: dict, probe: dict, pictures: list[Path]) -> None:
    lines = accuracy_lines("held-out accuracy (synthetic audio-visual QA)", table, chance=True)
    if probe:
        lines += accuracy_lines("MokA partial-modality probe (adapters act on: ...)", probe, chance=False)
    lines += ["", *(f"picture: {p}" for p in pictures)]
    print("\n".join(lines))
    print(json.dumps({"probe": probe}))
    print(json.dumps(table))  # last line: the table, machine-readable


def plot_accuracy(table: dict[str, dict[str, float]], png: Path) -> Path:
    """Grouped bars: one group per question type, one bar per method, chance as a grey bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({t for acc in table.values() for t in acc})
    rows = {**table, "chance": {t: CHANCE.get(t, 0.0) for t in tasks}}
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for k, (name, acc) in enumerate(rows.items()):
        xs = [i + (k - (len(rows) - 1) / 2) * width for i in range(len(tasks))]
        bars = ax.bar(
            xs, [acc.get(t, 0.0) for t in tasks], width, label=name, color="lightgrey" if name == "chance" else None
        )
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set(ylim=(0, 1.1), ylabel="held-out accuracy", title="synthetic audio-visual QA: accuracy per question type")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def plot_losses(root: Path, methods: list[str], png: Path) -> Path:
    """One panel per stage: every method's loss per step (faint) and smoothed; the shared
    pretraining stages as one curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {"shared": PRETRAIN, **{m: f"run_{m}" for m in methods}}
    curves = {label: read_metrics(root / run_dir / "metrics.jsonl") for label, run_dir in runs.items()}
    stages = list(dict.fromkeys(r["stage"] for rows in curves.values() for r in rows))
    fig, axes = plt.subplots(1, len(stages), figsize=(4.2 * len(stages), 3.4), squeeze=False)
    for ax, stage in zip(axes[0], stages):
        for k, (method, rows) in enumerate(curves.items()):
            rows = [r for r in rows if r["stage"] == stage]
            if not rows:  # the shared run holds only the pretraining stages, a method's run only its own
                continue
            steps, loss = [r["step"] for r in rows], [r["loss"] for r in rows]
            ax.plot(steps, loss, lw=0.7, alpha=0.3, color=f"C{k}")
            ax.plot(steps, smoothed(loss), lw=2.0, color=f"C{k}", label=f"{method} (smoothed)")
        ax.set(title=stage, xlabel="optimizer step", ylabel="training loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


if __name__ == "__main__":
    raise SystemExit(main())
