"""The embedded CPU demo (`make demo`): the whole system, offline, in a few minutes.

1. writes a tiny workspace: a byte-level BPE tokenizer and a random LLaMA, a tiny CLIP and BEATs
   (each in its library's own format), and synthetic audio-visual QA clips (.mp4 + .wav) whose
   answers need the media;
2. trains it with configs/tiny_avqa.yaml through the real trainer: two stages pretrain the video
   and the audio projector, the third fine-tunes MokA adapters + projectors;
3. answers held-out questions with the exported weights and scores them per question type.
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

from moka_train.config import load_config  # noqa: E402
from moka_train.eval.generate import generate_predictions, load_for_inference, write_jsonl  # noqa: E402
from moka_train.testing.synthetic import make_synthetic  # noqa: E402
from moka_train.testing.workspace import build_tiny_workspace  # noqa: E402
from moka_train.train.run import run  # noqa: E402

CHANCE = {"colour": 1 / 4, "tone": 1 / 2, "direction": 1 / 2, "av_colour_tone": 1 / 8}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="demo_out")
    parser.add_argument("--methods", nargs="+", default=["lora", "moka"])
    parser.add_argument("--train-samples", type=int, default=384)
    parser.add_argument("--heldout-samples", type=int, default=48)
    parser.add_argument("--epochs", type=float, default=4)
    parser.add_argument("overrides", nargs="*", help="extra config overrides, e.g. adapter.rank=8")
    args = parser.parse_args()
    root = Path(args.output_dir).resolve()
    os.environ["DEMO_ROOT"] = str(root)
    if not (root / "llm" / "config.json").is_file():  # built once, reused by later demos
        build_tiny_workspace(root, seed=0, num_av=args.train_samples)
    held_out = root / "heldout"
    make_synthetic(held_out, seed=1, num_av=args.heldout_samples, num_image=0, num_speech=0, frames=8, size=32)
    table = {method: train_and_score(root, held_out, method, args) for method in args.methods}
    print_table(table)
    return 0


def train_and_score(root: Path, held_out: Path, method: str, args) -> dict:
    cfg = load_config(ROOT / "configs" / "tiny_avqa.yaml",
                      [f"adapter.method={method}", f"output_dir={root / ('run_' + method)}", "overwrite=true",
                       f"stages.2.epochs={args.epochs}", *args.overrides])
    run(cfg)
    tokenizer, model = load_for_inference(cfg, Path(cfg.output_dir) / "export" / cfg.stages[-1].name)
    eval_cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"root": str(held_out)})})
    rows = generate_predictions(eval_cfg, tokenizer, model, held_out / "av_qa.jsonl")
    write_jsonl(rows, Path(cfg.output_dir) / "predictions_heldout.jsonl")
    return {"accuracy": score(rows), "loss_curve": str(Path(cfg.output_dir) / f"loss_{cfg.stages[-1].name}.png")}


def score(rows: list[dict]) -> dict[str, float]:
    """Exact-match accuracy per question type."""
    hits = defaultdict(list)
    for row in rows:
        hits[row["task"]].append(row["prediction"].strip().lower() == row["answer"].strip().lower())
    return {task: sum(v) / len(v) for task, v in sorted(hits.items())}


def print_table(table: dict) -> None:
    tasks = sorted({t for r in table.values() for t in r["accuracy"]})
    lines = ["", "held-out accuracy (synthetic audio-visual QA)", f"{'method':<10}" + "".join(f"{t:>16}" for t in tasks)]
    for method, result in table.items():
        lines.append(f"{method:<10}" + "".join(f"{result['accuracy'].get(t, float('nan')):>16.3f}" for t in tasks))
    lines.append(f"{'chance':<10}" + "".join(f"{CHANCE.get(t, float('nan')):>16.3f}" for t in tasks))
    lines += [f"loss curve ({m}): {r['loss_curve']}" for m, r in table.items()]
    print("\n".join(lines))
    print(json.dumps({m: r["accuracy"] for m, r in table.items()}))


if __name__ == "__main__":
    raise SystemExit(main())
