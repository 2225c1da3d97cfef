"""Useful (non-pad) tokens per second, packed vs. padded micro-batches, LoRA and MokA side by side.

    python scripts/bench_packing.py                        # CPU defaults below, about two minutes
    python scripts/bench_packing.py --device cuda --dtype bfloat16 --hidden 4096 --layers 4 ...

The data: a synthetic visual-text set shaped like LLaVA-Instruct-150K split into single turns
(``configs/visual_*.yaml``: ``multi_turn: split``, one image through a 32-query Q-Former). Every
sample is a chat prefix (12 tokens), 32 image tokens, a question of 8-40 tokens (uniform) and an
answer whose length is **log-normal** (median 80 tokens, sigma 0.9, clipped to 1..900). Why that
distribution: response lengths of instruction data are right-skewed with a long tail, which a
log-normal reproduces with two numbers; LLaVA-Instruct mixes short conversational answers (a few
to ~100 tokens) with detailed descriptions and complex-reasoning answers of a few hundred, so
the median sits near 80 and about 10 % of answers exceed 250 tokens. (The real file cannot be
read here; the parameters are a stated assumption, printed in the JSON.)

Both layouts get the same micro-batches of ``--batch`` samples, as the trainer does: padded to
the longest sample, or packed (``data.packing``: rows of at most ``--max-length`` tokens, position
ids restarting per sample, MokA's routing per sample). A step is forward + backward + AdamW on a
random LLaMA-shaped model (``bench_gpu.build``: only the adapters train); all runs are stepped
round robin over the same batches so drift of the machine hits each alike. tokens/s counts
non-pad tokens only. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
from bench_gpu import Trainee, rounded, sync  # scripts/ is sys.path[0]
from bench_gpu import parse_args as gpu_args

from moka_train.data.collate import Collator
from moka_train.data.tokenize import IGNORE_INDEX
from moka_train.modality import QUERY, TEXT, modality_id

PREFIX, IMAGE_TOKENS, QUESTION = 12, 32, (8, 40)
ANSWER = {"distribution": "lognormal", "median": 80, "sigma": 0.9, "min": 1, "max": 900}
CPU_SHAPE = [
    "--device",
    "cpu",
    "--dtype",
    "float32",
    "--hidden",
    "512",
    "--layers",
    "2",
    "--intermediate",
    "1376",
    "--heads",
    "8",
    "--vocab",
    "4000",
    "--no-checkpointing",
]


def answer_lengths(count: int, gen: torch.Generator) -> torch.Tensor:
    normal = torch.randn(count, generator=gen, dtype=torch.float64)
    lengths = torch.exp(torch.log(torch.tensor(float(ANSWER["median"]))) + ANSWER["sigma"] * normal)
    return lengths.round().clamp(ANSWER["min"], ANSWER["max"]).long()


def visual_text_samples(count: int, vocab: int, seed: int) -> list[dict]:
    """Collator items: prefix text, image tokens, query text, answer (the only labels)."""
    gen = torch.Generator().manual_seed(seed)
    questions = torch.randint(QUESTION[0], QUESTION[1] + 1, (count,), generator=gen)
    items = []
    for index, (question, answer) in enumerate(zip(questions.tolist(), answer_lengths(count, gen).tolist())):
        kinds = [(TEXT, PREFIX), (modality_id(0), IMAGE_TOKENS), (QUERY, question), (TEXT, answer)]
        mod = torch.cat([torch.full((n,), kind) for kind, n in kinds])
        ids = torch.randint(3, vocab, (len(mod),), generator=gen)
        labels = torch.full_like(ids, IGNORE_INDEX)
        labels[-answer:] = ids[-answer:]
        items.append({"id": f"s{index:05d}", "input_ids": ids, "labels": labels, "modality_ids": mod})
    return items


def layouts(items: list[dict], batch: int, max_length: int, hidden: int) -> dict[str, list[dict]]:
    groups = [items[i : i + batch] for i in range(0, len(items) - batch + 1, batch)]
    # the trainer's collator, laid out for this width (train.data.attention_width: 6 x hidden)
    padded, packed = Collator(0), Collator(0, packing_length=max_length, attention_width=6 * hidden)
    return {"padded": [padded(g) for g in groups], "packed": [packed(g) for g in groups]}


def step(trainee: Trainee, batch: dict, device: torch.device) -> None:
    on = {k: v.to(device) for k, v in batch.items() if isinstance(v, torch.Tensor)}
    packed = {k: on[k] for k in ("position_ids", "segment_ids")} if "segment_ids" in on else None
    trainee.step(
        on["input_ids"],
        on["modality_ids"],
        packed=packed,
        labels=on["labels"],
        attention_mask=None if packed else on["attention_mask"],
    )


def measure(args, data: dict[str, list[dict]]) -> dict:
    trainees = {m: Trainee(args, m) for m in args.methods}
    runs = [(m, layout) for m in args.methods for layout in data]
    seconds = dict.fromkeys(runs, 0.0)
    for round_ in range(args.rounds + 1):  # round 0 warms up
        for index in range(len(data["padded"])):
            for method, layout in runs:
                sync(args.device)
                start = time.perf_counter()
                step(trainees[method], data[layout][index], args.device)
                sync(args.device)
                if round_:
                    seconds[(method, layout)] += time.perf_counter() - start
    return seconds


def summary(args, data: dict[str, list[dict]], seconds: dict) -> dict:
    useful = sum(int(b["attention_mask"].sum()) for b in data["padded"]) * args.rounds
    rows = {}
    for (method, layout), total in seconds.items():
        tokens = sum(b["input_ids"].numel() for b in data[layout]) * args.rounds
        rows.setdefault(method, {})[layout] = {
            "useful_tokens_per_s": useful / total,
            "step_s": total / (args.rounds * len(data[layout])),
            "non_pad_share": useful / tokens,
        }
    for row in rows.values():
        row["packed_vs_padded_useful_tokens_per_s"] = (
            row["packed"]["useful_tokens_per_s"] / row["padded"]["useful_tokens_per_s"]
        )
    ratios = {
        f"moka_vs_lora_{layout}_step": rows["moka"][layout]["step_s"] / rows["lora"][layout]["step_s"]
        for layout in data
        if "moka" in rows and "lora" in rows
    }
    return {"rows": rows, **ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8, help="samples per micro-batch")
    parser.add_argument("--max-length", type=int, default=2048, help="data.max_length: the longest packed row")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over the batches (one more warms up)")
    parser.add_argument("--seed", type=int, default=0)
    args, shape_argv = parser.parse_known_args()
    shape = gpu_args(CPU_SHAPE + shape_argv)
    shape.rounds = args.rounds
    data = layouts(visual_text_samples(args.samples, shape.vocab, args.seed), args.batch, args.max_length, shape.hidden)
    result = {
        "bench": "packing",
        "machine": f"{platform.machine()} threads={torch.get_num_threads()}",
        "device": str(shape.device),
        "dtype": str(shape.dtype).removeprefix("torch."),
        "shape": {k: getattr(shape, k) for k in ("hidden", "layers", "intermediate", "heads", "vocab")},
        "data": {
            "samples": args.samples,
            "batch": args.batch,
            "max_length": args.max_length,
            "prefix": PREFIX,
            "image_tokens": IMAGE_TOKENS,
            "question": list(QUESTION),
            "answer": ANSWER,
            "micro_batches": len(data["padded"]),
            "packed_rows_per_batch": sum(b["input_ids"].shape[0] for b in data["packed"]) / len(data["packed"]),
        },
        **summary(shape, data, measure(shape, data)),
    }
    print(json.dumps(rounded(result)))


if __name__ == "__main__":
    main()
