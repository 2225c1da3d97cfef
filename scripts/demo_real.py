"""`make demo-real`: real Whisper tiny.en + real SmolLM2-135M-Instruct learn spoken cards and digits.

1. synthesises the training speech with espeak-ng (several voices, speeds, pitches) and the
   held-out sets: voices never heard in training, and real human recordings (pocketsphinx-testdata);
   the task (moka_train/testing/spoken_cards.py) is transcription, scored by WER (`asr_wer`);
2. fills the feature cache (the frozen Whisper encoder runs once per clip), then pretrains the
   projector once (stage 1, plain template), and fine-tunes each method (MokA, LoRA) from that
   same projector in SmolLM2's own chat template (configs/real_speech_smollm2.yaml);
3. evaluates every model through `evaluate run --benchmark asr_wer`: the projector-only model
   (before fine-tuning) and each fine-tuned export, per held-out split;
4. prints a table and, last, one JSON line; draws wer.png beside them.

Needs `make real-weights` first (the weights are read from its cache, sha256-checked).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "2")

from moka_train.cli import main as cli_main  # noqa: E402
from moka_train.config import load_config  # noqa: E402
from moka_train.eval.protocol import ASR_INSTRUCTION, asr_prompt  # noqa: E402
from moka_train.testing.real_weights import converted_path, resolve_cache_dir, verify_manifest  # noqa: E402
from moka_train.testing.real_weights.packages import selected_artifacts  # noqa: E402
from moka_train.testing.spoken_cards import Instruction, build_spoken_cards  # noqa: E402
from moka_train.train.feature_cache_writer import fill_feature_cache  # noqa: E402
from moka_train.train.run import run  # noqa: E402
from moka_train.utils.jsonl import read_objects  # noqa: E402

CONFIG = ROOT / "configs" / "real_speech_smollm2.yaml"
POCKETSPHINX = "/usr/share/pocketsphinx/test/data"
PRETRAIN = "run_pretrain"
SPLITS = ("unseen_voices", "real")
ASR = Instruction(asr_prompt(), ASR_INSTRUCTION)  # the asr_wer protocol's instruction, trained and evaluated
START = time.monotonic()


def say(message: str) -> None:
    print(f"[demo-real {time.monotonic() - START:6.1f} s] {message}", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="demo_real_out")
    parser.add_argument(
        "--cache-dir", help="real-weights cache (default $MOKA_REAL_WEIGHTS or ~/.cache/moka-train/real)"
    )
    parser.add_argument("--methods", nargs="+", default=["moka", "lora"])
    parser.add_argument("--train-samples", type=int, default=160)
    parser.add_argument("--heldout-samples", type=int, default=24, help="clips in unseen voices")
    parser.add_argument("--pretrain-epochs", type=float, default=2)
    parser.add_argument("--epochs", type=float, default=1.5, help="fine-tuning epochs")
    parser.add_argument("--seed", type=int, default=0, help="training seed (initialisation, data order)")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic speech")
    parser.add_argument("overrides", nargs="*", help="extra config overrides, e.g. adapter.rank=8")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    cache = resolve_cache_dir(args.cache_dir)
    for artifact in selected_artifacts():  # the required ones, refused before loading when damaged
        verify_manifest(converted_path(artifact.name, cache))
    root = Path(args.output_dir).resolve()
    os.environ.update(MODEL_ROOT=str(cache), DEMO_ROOT=str(root))  # the recipe's two roots
    data = root / "data"
    if not (data / "heldout.jsonl").is_file():
        say(f"synthesising speech into {data} ...")
        counts = build_spoken_cards(data, POCKETSPHINX, ASR, args.train_samples, args.heldout_samples, args.data_seed)
        say(f"data: {counts['train']} training clips, {counts['unseen_voices']} unseen-voice and {counts['real']} real")
    say("feature cache: Whisper tiny.en over every clip ...")
    fill_caches(config(root, "moka", args), data / "heldout.jsonl")
    say("stage 1: projector pretraining ...")
    pretrained = pretrain(root, args)
    table = {"projector only": evaluate(root, "moka", pretrained, "projector_only", args)}
    for method in args.methods:
        say(f"stage 2: fine-tuning {method} ...")
        cfg = finetune_config(root, method, args, pretrained)
        run(cfg)
        table[method] = evaluate(root, method, Path(cfg.output_dir) / "export" / cfg.stages[-1].name, method, args)
    png = plot(table, root / "wer.png")
    report(table, png)
    return 0


def config(root: Path, method: str, args, extra: list[str] = ()):
    return load_config(CONFIG, [*base_overrides(root, method, args), *extra])


def base_overrides(root: Path, method: str, args) -> list[str]:
    return [
        f"adapter.method={method}",
        f"output_dir={root / ('run_' + method)}",
        "overwrite=true",
        f"stages.0.epochs={args.pretrain_epochs}",
        f"stages.1.epochs={args.epochs}",
        f"train.seed={args.seed}",
        f"data.seed={args.seed}",
        f"data.feature_cache={root / 'feature_cache'}",
        *args.overrides,
    ]


def fill_caches(cfg, heldout: Path) -> None:
    fill_feature_cache(cfg)
    data = cfg.data.model_copy(update={"train_file": str(heldout), "eval_file": None})
    fill_feature_cache(cfg.model_copy(update={"data": data, "stages": cfg.stages[-1:]}))


def pretrain(root: Path, args) -> Path:
    cfg = config(root, "moka", args)
    cfg = cfg.model_copy(update={"output_dir": str(root / PRETRAIN), "stages": cfg.stages[:1]})
    run(cfg)
    return root / PRETRAIN / "export" / cfg.stages[0].name


def finetune_config(root: Path, method: str, args, pretrained: Path):
    cfg = config(root, method, args)
    stage = cfg.stages[-1].model_copy(update={"init_from": (str(pretrained),)})
    return cfg.model_copy(update={"stages": (stage,)})  # a tuple, as the schema holds it


def evaluate(root: Path, method: str, export: Path, name: str, args) -> dict:
    """`evaluate run --benchmark asr_wer` on the held-out file; WER and exact match per split."""
    output = root / f"predictions_{name}.jsonl"
    for stale in root.glob(f"predictions_{name}.jsonl*"):
        stale.unlink()  # a rerun of the demo evaluates afresh
    argv = ["evaluate", "run", "--config", str(CONFIG), "--checkpoint", str(export), "--benchmark", "asr_wer"]
    argv += ["--input", str(root / "data" / "heldout.jsonl"), "--output", str(output), "--max-new-tokens", "24"]
    say(f"evaluate run: {name} ...")
    with contextlib.redirect_stdout(io.StringIO()) as captured:
        code = cli_main([*argv, *base_overrides(root, method, args)])
    if code != 0:
        raise RuntimeError(f"evaluate run for {name} exited {code}")
    result = json.loads(captured.getvalue().strip().splitlines()[-1])
    rows = [row for _, row in read_objects(output)]
    return {split: split_scores(result, rows, split) for split in SPLITS}


def split_scores(result: dict, rows: list[dict], split: str) -> dict:
    from moka_train.eval.metrics.wer import normalise

    mine = [r for r in rows if r.get("split") == split]
    exact = sum(normalise(r["prediction"]) == normalise(r["answer"]) for r in mine) / max(len(mine), 1)
    return {"wer": round(result["splits"][split], 2), "exact": round(exact, 3), "n": len(mine)}


def report(table: dict, png: Path) -> None:
    lines = ["", "held-out transcription of spoken cards and digits (WER %, lower is better; exact-match share)"]
    lines.append(f"{'':<16}" + "".join(f"{s + ' WER':>20}{'exact':>8}" for s in SPLITS))
    for name, scores in table.items():
        lines.append(f"{name:<16}" + "".join(f"{scores[s]['wer']:>20.1f}{scores[s]['exact']:>8.2f}" for s in SPLITS))
    n = next(iter(table.values()))
    lines += [f"(held out: {n['unseen_voices']['n']} clips in unseen voices, {n['real']['n']} real recordings)"]
    lines += ["", f"picture: {png}"]
    print("\n".join(lines))
    print(json.dumps(table))  # last line: the table, machine-readable


def plot(table: dict, png: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / len(table)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for k, (name, scores) in enumerate(table.items()):
        xs = [i + (k - (len(table) - 1) / 2) * width for i in range(len(SPLITS))]
        bars = ax.bar(xs, [scores[s]["wer"] for s in SPLITS], width, label=name)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(SPLITS)), ["unseen synthetic voices", "real human recordings"])
    ax.set(ylabel="held-out WER (%)", title="real Whisper tiny.en + SmolLM2-135M: spoken cards and digits")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


if __name__ == "__main__":
    raise SystemExit(main())
