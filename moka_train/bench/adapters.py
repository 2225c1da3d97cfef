"""The one-layer benchmark (``scripts/bench_adapters.py``): one adapted linear layer of each kind
on a shared W0, forward + backward, side by side; the least of ``reps`` rounds in each of which
every layer runs once, in a random order; plus a decode step of one layer."""

from __future__ import annotations

import platform
from dataclasses import dataclass

import torch

from moka_train.adapters import AdapterSpec, RoutingSlot, available_methods, get_method
from moka_train.adapters.methods.lora import LoRALinear
from moka_train.adapters.methods.moka import MokaLinear
from moka_train.adapters.methods.wander import WanderLinear
from moka_train.bench.timing import Schedule, interleaved_times
from moka_train.testing.reference_moka import reference_moka_delta

DECODE_STEPS = 100


@dataclass(frozen=True)
class LayerBench:
    d: int = 4096
    batch: int = 8
    tokens: int = 512
    rank: int = 4
    reps: int = 5
    methods: tuple[str, ...] | None = None  # per-method whole-layer ratios; None: every registered one


def least_times(fns: dict, reps: int) -> dict[str, float]:
    """The least, not the median: interference only ever adds time, and on a shared machine it
    moved medians of identical layers apart by up to 20 % where minima agreed."""
    return interleaved_times(fns, Schedule(rounds=reps, warmup=1, order="shuffled", statistic="min", seed=0))


def realistic_ids(batch: int, tokens: int, gen: torch.Generator) -> torch.Tensor:
    """Per row: system text, 320 video, 32 audio, a 40-60 token question, then answer text."""
    ids = torch.zeros(batch, tokens, dtype=torch.long)
    for row in range(batch):  # building the batch, not the timed path
        start = 8
        ids[row, start : start + 320] = 2
        ids[row, start + 320 : start + 352] = 3
        q = int(torch.randint(40, 61, (1,), generator=gen))
        ids[row, start + 356 : start + 356 + q] = 1
    return ids


def fwd_bwd(compute, x):
    def run():
        x.grad = None
        compute(x).sum().backward()

    return run


def layer_report(bench: LayerBench) -> dict:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    spec = AdapterSpec(method="moka", rank=bench.rank, alpha=16, dropout=0.05, modalities=("video", "audio"))
    slot = RoutingSlot(2)
    base = torch.nn.Linear(bench.d, bench.d, bias=False).requires_grad_(False)
    moka = MokaLinear(base, spec, slot)
    lora = LoRALinear(base, spec, slot)
    for layer in (moka, lora):
        torch.nn.init.normal_(layer.lora_B, std=0.01)
    ids = realistic_ids(bench.batch, bench.tokens, gen)
    routing = slot.set(ids)  # built once per forward for all layers: not part of a layer's cost
    x = torch.randn(bench.batch, bench.tokens, bench.d, requires_grad=True)

    A_list = [moka.lora_A[n] for n in moka.adapter_names]
    ref = lambda t: reference_moka_delta(moka.dropout(t), ids, A_list, moka.lora_B, moka.scale, 1.0)  # noqa: E731
    ours = lambda t: moka.delta(moka.dropout(t), routing)  # noqa: E731
    lora_path = lambda t: lora.delta(lora.dropout(t), routing)  # noqa: E731
    layers = {
        name: fwd_bwd(compute, x)
        for name, compute in (
            ("reference_adapter", ref),
            ("moka_adapter", ours),
            ("lora_adapter", lora_path),
            ("moka_layer", moka),
            ("lora_layer", lora),
            ("peft_layer", peft_lora_layer(base, spec)),
            ("wander_layer", wander_layer(base, spec, slot)),
        )
    }
    methods = list(bench.methods) if bench.methods else available_methods()
    layers.update({f"method:{m}": fwd_bwd(method_layer(m, base, slot, bench.rank), x) for m in methods})
    times = least_times(layers, bench.reps)
    per_method = {m: round(times.pop(f"method:{m}") / times["lora_layer"], 4) for m in methods}
    times.update(decode_step_times(base, moka, lora, slot, bench.batch, bench.d, bench.reps))
    return _ratios(times, per_method, bench)


def _ratios(times: dict[str, float], per_method: dict[str, float], bench: LayerBench) -> dict:
    result = {
        "moka_vs_reference": times["reference_adapter"] / times["moka_adapter"],
        "moka_vs_lora_adapter": times["moka_adapter"] / times["lora_adapter"],
        "moka_vs_lora_layer": times["moka_layer"] / times["lora_layer"],
        "lora_vs_peft": times["lora_layer"] / times["peft_layer"],
        "wander_vs_lora_layer": times["wander_layer"] / times["lora_layer"],
        "moka_decode_vs_lora_decode": times["moka_decode"] / times["lora_decode"],
        "moka_decode_vs_base_decode": times["moka_decode"] / times["base_decode"],
        "layer_vs_lora": per_method,
        "seconds": times,
        "shape": {"d": bench.d, "batch": bench.batch, "tokens": bench.tokens, "rank": bench.rank},
        "machine": f"{platform.machine()} {platform.processor() or ''} threads={torch.get_num_threads()}".strip(),
        "device": "cpu",
    }
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}


def method_layer(method: str, base, slot: RoutingSlot, rank: int):
    """A whole layer of a registered method on the shared W0, every adapter parameter non-zero
    (zero-initialised parameters would let a method skip real work): the measured cost column
    of the paper's comparison, as a ratio to our LoRA layer."""
    spec = AdapterSpec(method=method, rank=rank, alpha=16, dropout=0.05, modalities=("video", "audio"))
    layer = get_method(method)(base, spec, slot)
    with torch.no_grad():
        for _, param in layer.adapter_named_parameters():
            if param.abs().sum() == 0:
                param.normal_(0, 0.01)
    return layer


def decode_step_times(base, moka, lora, slot: RoutingSlot, batch: int, d: int, reps: int) -> dict[str, float]:
    """Seconds for 100 decode steps of one layer: one new token per sequence, routing text-only."""
    x = torch.randn(batch, 1, d)
    slot.decoding = True  # what the backbone pre-hook sets once the KV cache holds the prompt

    def hundred(layer):
        def run():
            with torch.no_grad():
                for _ in range(DECODE_STEPS):
                    layer(x)

        return run

    kinds = (("base", base), ("lora", lora), ("moka", moka))
    times = least_times({f"{name}_decode": hundred(layer) for name, layer in kinds}, reps)
    slot.decoding = False
    return times


def wander_layer(base: torch.nn.Linear, spec: AdapterSpec, slot: RoutingSlot) -> WanderLinear:
    """A Wander layer (default width / CP rank / token rank) on the same W0 as the LoRA layer;
    U is made non-zero so the fusion's backward runs."""
    wander = WanderLinear(base, AdapterSpec(method="wander", dropout=spec.dropout, modalities=spec.modalities), slot)
    torch.nn.init.normal_(wander.up, std=0.01)
    return wander


def peft_lora_layer(base: torch.nn.Linear, spec: AdapterSpec):
    from peft import LoraConfig
    from peft.tuners.lora import Linear as PeftLoraLinear

    config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, lora_dropout=spec.dropout)
    layer = PeftLoraLinear(base, "default", config=config, r=spec.rank, lora_alpha=spec.alpha)
    torch.nn.init.normal_(layer.lora_B["default"].weight, std=0.01)
    return layer
