"""The packing benchmark (``scripts/bench_packing.py``): useful (non-pad) tokens per second of
packed vs. padded micro-batches of a synthetic LLaVA-Instruct-shaped visual-text set, LoRA and
MokA on a random LLaMA-shaped model. The answer-length distribution is a stated assumption:
log-normal, median 80 tokens, sigma 0.9 (right-skewed with a long tail, as instruction data)."""

from __future__ import annotations

import platform
from dataclasses import dataclass

import torch

from moka_train.bench.llama import LlamaBench, synchronizer
from moka_train.bench.llama_train import Trainee
from moka_train.bench.report import rounded
from moka_train.bench.timing import Schedule, interleaved_times
from moka_train.data.collate import Collator
from moka_train.data.tokenize import IGNORE_INDEX
from moka_train.modality import QUERY, TEXT, modality_id

PREFIX, IMAGE_TOKENS, QUESTION = 12, 32, (8, 40)
ANSWER = {"distribution": "lognormal", "median": 80, "sigma": 0.9, "min": 1, "max": 900}
# the CPU shape of the benchmark's defaults (flags given on the command line win)
CPU_PACKING_SHAPE = dict(
    device="cpu", dtype="float32", hidden=512, layers=2, intermediate=1376, heads=8, vocab=4000, checkpointing=False
)


@dataclass(frozen=True)
class PackingData:
    samples: int = 64
    batch: int = 8  # samples per micro-batch
    max_length: int = 2048  # data.max_length: the longest packed row
    rounds: int = 2  # timed passes over the batches (one more warms up)
    seed: int = 0


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


class BatchCycle:
    """One run's turn: a step on its layout's next micro-batch (the batches in order, then again)."""

    def __init__(self, trainee: Trainee, batches: list[dict], device: torch.device) -> None:
        self.trainee, self.batches, self.device, self.index = trainee, batches, device, 0

    def __call__(self) -> None:
        batch = self.batches[self.index % len(self.batches)]
        self.index += 1
        step(self.trainee, batch, self.device)


def measure(shape: LlamaBench, data: dict[str, list[dict]], rounds: int) -> dict:
    """Total seconds per (method, layout) over ``rounds`` passes after one warm-up pass; every
    run steps on micro-batch i before any steps on i + 1, so all face the same drift."""
    trainees = {m: Trainee(shape, m) for m in shape.methods}
    runs = {(m, layout): BatchCycle(trainees[m], data[layout], shape.device) for m in shape.methods for layout in data}
    per_pass = len(data["padded"])
    schedule = Schedule(rounds=rounds * per_pass, warmup=per_pass, order="round_robin", statistic="sum")
    return interleaved_times(runs, schedule, sync=synchronizer(shape.device))


def summary(rounds: int, data: dict[str, list[dict]], seconds: dict) -> dict:
    useful = sum(int(b["attention_mask"].sum()) for b in data["padded"]) * rounds
    rows = {}
    for (method, layout), total in seconds.items():
        tokens = sum(b["input_ids"].numel() for b in data[layout]) * rounds
        rows.setdefault(method, {})[layout] = {
            "useful_tokens_per_s": useful / total,
            "step_s": total / (rounds * len(data[layout])),
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


def packing_report(shape: LlamaBench, settings: PackingData) -> dict:
    items = visual_text_samples(settings.samples, shape.vocab, settings.seed)
    data = layouts(items, settings.batch, settings.max_length, shape.hidden)
    return rounded(
        {
            "bench": "packing",
            "machine": f"{platform.machine()} threads={torch.get_num_threads()}",
            "device": str(shape.device),
            "dtype": str(shape.dtype).removeprefix("torch."),
            "shape": {k: getattr(shape, k) for k in ("hidden", "layers", "intermediate", "heads", "vocab")},
            "data": {
                "samples": settings.samples,
                "batch": settings.batch,
                "max_length": settings.max_length,
                "prefix": PREFIX,
                "image_tokens": IMAGE_TOKENS,
                "question": list(QUESTION),
                "answer": ANSWER,
                "micro_batches": len(data["padded"]),
                "packed_rows_per_batch": sum(b["input_ids"].shape[0] for b in data["packed"]) / len(data["packed"]),
            },
            **summary(settings.rounds, data, measure(shape, data, settings.rounds)),
        }
    )
