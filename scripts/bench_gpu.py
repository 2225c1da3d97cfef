"""LoRA vs. MokA on a LLaMA-2-7B-shaped model: training step time, memory and MFU; prefill/decode
speed.

    python scripts/bench_gpu.py                                   # on a GPU machine: 7B shape, bf16
    python scripts/bench_gpu.py --tiny --device cpu --dtype float32   # seconds on a CPU (the test)

The model is randomly initialised from a LlamaConfig straight on the device (no weights are
downloaded); only the adapters train (rank 4, every projection, modalities video + audio). Each
sequence is routed like the paper's AV sample: a text prefix, 320 video, 320 audio and 48
query-text tokens, the rest text (scaled down for short sequences).

Training runs twice: one sample per row, and packed (``PACKED_SAMPLES`` samples per row, position
ids restarting per sample, MokA's routing per sample: ``data.packing``). ``train_flops_per_step``
counts model FLOPs for a *frozen* base (the backward pass only propagates input gradients), from
which ``mfu``; ``hfu`` adds the checkpointing recomputation; ``mfu_6n`` is the common 6·N·tokens
estimate (N = all base parameters), which assumes weight gradients: at the 7B shape it is 1.44× the
model FLOPs of a frozen base. MFU fields are null without a peak (``--peak-tflops`` or a known GPU
name). The methods are stepped round robin. Memory: ``saved_activation_mb`` (tensors kept for
backward in one step, any device) and, on CUDA, ``step_peak_mb`` (peak allocation of a step above
the memory held before it).

Generation: greedy with the KV cache, prefill and decode tokens/s for the base model, LoRA merged
into the weights, MokA, and MokA with its text path folded for decoding (``fold_text_path``, what
evaluation runs); the kinds take turns at every decode step, in a random order. Prints one
JSON line.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moka_train.adapters import (
    AdapterSpec,
    RoutingSlot,
    adapter_modules,
    apply_adapters,  # noqa: E402
    fold_text_path,
    merge_text_path,
)
from moka_train.modality import QUERY, TEXT, modality_id  # noqa: E402

SEVEN_B = dict(hidden=4096, layers=32, intermediate=11008, heads=32, vocab=32000)
TINY = dict(hidden=64, layers=2, intermediate=128, heads=4, vocab=512, batch=2, seq=64, prompt=32, new=4)
# bf16 dense peak TFLOP/s by device-name substring; A100 before A10 because substrings overlap
PEAK_TFLOPS = (("H100", 989.0), ("H200", 989.0), ("A100", 312.0), ("L40S", 362.0), ("A10", 125.0), ("RTX 4090", 165.0))
# the paper's AV sample: text prefix, video, audio, query text (then the text answer)
LAYOUT = ((TEXT, 8), (modality_id(0), 320), (modality_id(1), 320), (QUERY, 48))


# --- FLOP counting (pure) ---------------------------------------------------------------------
def matmul_params(config) -> tuple[int, int]:
    """(weights of the decoder layers' linear layers, weights of lm_head); no biases (LLaMA)."""
    hidden, heads = config.hidden_size, config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    attention = 2 * hidden * heads * head_dim + 2 * hidden * config.num_key_value_heads * head_dim  # q, o; k, v
    mlp = 3 * hidden * config.intermediate_size  # gate, up, down
    return config.num_hidden_layers * (attention + mlp), hidden * config.vocab_size


def train_flops_per_step(config, batch: int, seq: int, checkpointing: bool = True) -> dict[str, int]:
    """FLOPs of one training step of a frozen base: {"model", "hardware", "six_n"}.

    Per token, the forward costs 2·N_matmul plus causal attention 2·2·L·T·d_attn / 2 (scores and
    the weighted sum, half of the scores masked). The backward of a frozen weight is one GEMM
    (input gradient) instead of two, so 2·N_matmul again, while attention's backward is twice its
    forward. Rank-4 adapters add well under 1% and are left out. "hardware" adds the decoder
    layers' recomputed forward under gradient checkpointing (lm_head is not recomputed).
    "six_n" is 6·(all base parameters)·tokens, the usual shortcut that assumes weight gradients.
    """
    tokens = batch * seq
    layers, head = matmul_params(config)
    heads = config.num_attention_heads
    d_attn = heads * (getattr(config, "head_dim", None) or config.hidden_size // heads)
    attention = 2 * 2 * config.num_hidden_layers * seq * d_attn // 2
    forward = 2 * (layers + head) + attention
    backward = 2 * (layers + head) + 2 * attention
    recompute = 2 * layers + attention if checkpointing else 0
    embeddings = config.vocab_size * config.hidden_size
    norms = (2 * config.num_hidden_layers + 1) * config.hidden_size
    total = layers + embeddings + norms + (0 if config.tie_word_embeddings else head)
    return {
        "model": tokens * (forward + backward),
        "hardware": tokens * (forward + backward + recompute),
        "six_n": 6 * total * tokens,
    }


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((tflops for key, tflops in PEAK_TFLOPS if key in name), None)


# --- model and inputs -------------------------------------------------------------------------
def llama_config(args):
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.heads,
        vocab_size=args.vocab,
    )


def build(args, method: str | None):
    """Random model on the device (built there: a 7B model never passes through host memory),
    with the method's adapters when one is named."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with torch.device(args.device):
        model = AutoModelForCausalLM.from_config(llama_config(args), dtype=args.dtype)
    model.to(args.device)
    return model, add_adapters(model, method)


def add_adapters(model, method: str | None) -> RoutingSlot:
    """The method's adapters on every projection, B non-zero so that their path is no no-op."""
    slot = RoutingSlot(2)
    if method is not None:
        torch.manual_seed(1)
        apply_adapters(model, AdapterSpec(method=method, rank=4, dropout=0.0, modalities=("video", "audio")), slot)
        with torch.no_grad():
            for module in adapter_modules(model).values():
                module.lora_B.normal_(0, 0.01)
    return slot


def routed_batch(args, batch: int, length: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids and modality_ids [B, length] in the AV layout, segments shrunk to fit a short
    sequence (each keeps at least one token, a quarter of the sequence stays answer text)."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(3, args.vocab, (batch, length), generator=gen)
    mod = torch.full_like(ids, TEXT)
    scale = min(1.0, 0.75 * length / sum(n for _, n in LAYOUT))
    start = 0
    for kind, count in LAYOUT:
        end = min(length, start + max(1, round(count * scale)))
        mod[:, start:end] = kind
        start = end
    return ids.to(device), mod.to(device)


PACKED_SAMPLES = 4  # samples per row in the packed variant


def packed_batch(args, batch: int, length: int, device) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """ids and modality_ids [B, length] holding ``PACKED_SAMPLES`` samples per row, each in the AV
    layout of its own length, with their position ids (restarting per sample) and segment ids:
    what a packed training batch (``data.packing``) gives the backbone and the routing."""
    per = length // PACKED_SAMPLES
    ids, _ = routed_batch(args, batch, length, device)
    _, sample_mod = routed_batch(args, 1, per, device)
    mod = torch.full_like(ids, TEXT)
    mod[:, : per * PACKED_SAMPLES] = sample_mod.repeat(1, PACKED_SAMPLES)
    sample = torch.arange(length, device=device).clamp(max=per * PACKED_SAMPLES - 1) // per  # the last takes the rest
    starts = torch.arange(PACKED_SAMPLES, device=device) * per
    positions = torch.arange(length, device=device) - starts[sample]
    segments = sample[None, :] + PACKED_SAMPLES * torch.arange(batch, device=device)[:, None]
    return ids, mod, {"position_ids": positions.expand(batch, -1), "segment_ids": segments}


def release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --- training ---------------------------------------------------------------------------------
class Trainee:
    """One method's model, routing slot and AdamW over its adapters, ready for timed steps."""

    def __init__(self, args, method: str) -> None:
        self.model, self.slot = build(args, method)
        self.model.config.use_cache = False
        if args.checkpointing:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            self.model.enable_input_require_grads()  # the frozen embeddings would cut the graph at layer 0
        self.model.train()
        # foreach: one kernel per group, as DeepSpeed's flat partitions and CUDA's default make it
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad], lr=1e-4, foreach=True
        )

    def step(
        self,
        ids: torch.Tensor,
        mod: torch.Tensor,
        packed: dict | None = None,
        labels: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> None:
        """One training step; ``packed`` (position_ids, segment_ids): packed rows, the way
        MultimodalLM.forward passes them (no 2D mask: the backbone's block-diagonal mask)."""
        self.slot.set(mod, None if packed is None else packed["segment_ids"])  # part of a real step's cost
        extra = {"attention_mask": attention_mask} if packed is None else {"position_ids": packed["position_ids"]}
        self.model(input_ids=ids, labels=ids if labels is None else labels, **extra).loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def saved_activation_mb(step: Callable[[], None]) -> float:
    """MB of tensors autograd keeps for backward in one step (deterministic, on any device): what
    a method adds to activation memory. Storage is counted once however many views share it."""
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values()) / 2**20


def train_rows(args, flops: dict, peak: float | None, packed: bool = False) -> dict:
    """Median step seconds per method, the methods stepped round robin (one step each per round)
    so that drift of the machine hits every method alike; warm-up rounds are not timed.
    ``packed``: the same shape holding ``PACKED_SAMPLES`` samples per row (``packed_batch``)."""
    release(args.device)
    trainees = {method: Trainee(args, method) for method in args.methods}
    if packed:
        ids, mod, extra = packed_batch(args, args.batch, args.seq, args.device)
        for trainee in trainees.values():
            trainee.step = functools.partial(trainee.step, packed=extra)
    else:
        ids, mod = routed_batch(args, args.batch, args.seq, args.device)
    times = {method: [] for method in trainees}
    step_peak = dict.fromkeys(trainees, 0.0)
    for round_ in range(args.warmup + args.steps):
        for method, trainee in trainees.items():
            seconds, peak_mb = timed_step(args.device, trainee, ids, mod)
            if round_ >= args.warmup:
                times[method].append(seconds)
                step_peak[method] = max(step_peak[method], peak_mb)
    rows = {}
    for method, trainee in trainees.items():
        seconds = statistics.median(times[method])
        rows[method] = {
            "step_s": seconds,
            "tokens_per_s": args.batch * args.seq / seconds,
            "step_peak_mb": step_peak[method] if args.device.type == "cuda" else None,
            "saved_activation_mb": saved_activation_mb(lambda trainee=trainee: trainee.step(ids, mod)),
            **{
                key: None if peak is None else flops[count] / seconds / (peak * 1e12)
                for key, count in (("mfu", "model"), ("hfu", "hardware"), ("mfu_6n", "six_n"))
            },
        }
    return rows


def timed_step(device: torch.device, trainee: Trainee, ids, mod) -> tuple[float, float]:
    """(seconds, MB allocated above the step's start at its peak; 0 off CUDA)."""
    sync(device)
    before = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    trainee.step(ids, mod)
    sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) - before if device.type == "cuda" else 0
    return seconds, peak / 2**20


# --- generation -------------------------------------------------------------------------------
GENERATE_KINDS = {"base": None, "lora": "lora", "lora_merged": "lora", "moka": "moka", "moka_folded": "moka"}


def generation_model(args, kind: str):
    """A model in eval mode: LoRA merged into W0 (text-only serving), or MokA with its text path
    folded for decoding (``fold_text_path``, what evaluation runs; prefill runs the full path)."""
    model, slot = build(args, GENERATE_KINDS[kind])
    model.eval()
    if kind == "lora_merged":
        merge_text_path(model)
    if kind == "moka_folded":
        fold_text_path(model)
    return model, slot


class Generation:
    """One greedy generation with the KV cache, advanced a step at a time."""

    def __init__(self, model, slot, ids: torch.Tensor, mod: torch.Tensor) -> None:
        self.model, self.slot, self.ids, self.mod = model, slot, ids, mod

    def prefill(self) -> None:
        self.slot.set(self.mod)
        self.out = self.model(input_ids=self.ids, use_cache=True, logits_to_keep=1)  # as generate() does

    def decode(self) -> None:  # a cache that already holds tokens switches the adapters to decode
        token = self.out.logits[:, -1:].argmax(-1)
        self.out = self.model(input_ids=token, past_key_values=self.out.past_key_values, use_cache=True)


def generate_rows(args, kinds=("base", "lora_merged", "moka", "moka_folded")) -> dict:
    """Prefill and decode tokens/s per kind: the median prefill and the median decode step over
    ``args.reps`` generations (plus one warm-up). The kinds take turns at every single step, in a
    random order each step (a fixed rotation would always run a kind right after the same other
    one, and what that one leaves in the caches biased the ratios by up to 6 %), so that the
    machine's drift and bursts hit every kind alike."""
    release(args.device)
    random.seed(0)
    models = {kind: generation_model(args, kind) for kind in kinds}
    ids, mod = routed_batch(args, args.batch, args.prompt, args.device)
    prefill, decode = ({kind: [] for kind in kinds} for _ in range(2))
    with torch.no_grad():
        for rep in range(args.reps + 1):
            runs = {kind: Generation(*models[kind], ids, mod) for kind in kinds}
            for step in range(args.new + 1):  # step 0 is the prefill
                for kind in random.sample(kinds, len(kinds)):
                    seconds = timed(args.device, runs[kind].decode if step else runs[kind].prefill)
                    if rep:
                        (decode if step else prefill)[kind].append(seconds)
    return {
        kind: {
            "prefill_tok_s": ids.numel() / statistics.median(prefill[kind]),
            "decode_tok_s": ids.shape[0] / statistics.median(decode[kind]),
        }
        for kind in kinds
    }


def timed(device: torch.device, work: Callable[[], None]) -> float:
    sync(device)
    start = time.perf_counter()
    work()
    sync(device)
    return time.perf_counter() - start


# --- command line -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a toy shape for CPU tests (explicit flags still win)")
    for name in SEVEN_B:
        parser.add_argument(f"--{name}", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None, help="default 8 (tiny: 2)")
    parser.add_argument("--seq", type=int, default=None, help="training sequence length, default 2048")
    parser.add_argument("--prompt", type=int, default=None, help="generation prompt length, default 1024")
    parser.add_argument("--new", type=int, default=None, help="decoded tokens, default 128")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reps", type=int, default=2, help="timed generation repetitions")
    parser.add_argument("--methods", nargs="+", default=["lora", "moka"])
    parser.add_argument("--no-checkpointing", dest="checkpointing", action="store_false")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak; default: looked up by GPU name")
    args = parser.parse_args(argv)
    defaults = {**SEVEN_B, "batch": 8, "seq": 2048, "prompt": 1024, "new": 128, **(TINY if args.tiny else {})}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.device, args.dtype = torch.device(args.device), getattr(torch, args.dtype)
    return args


def ratio(rows: dict, key: str, num: str, den: str) -> float | None:
    return rows[num][key] / rows[den][key] if num in rows and den in rows else None


def rounded(value):
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return float(f"{value:.4g}") if isinstance(value, float) and math.isfinite(value) else value


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    flops = train_flops_per_step(llama_config(args), args.batch, args.seq, args.checkpointing)
    peak = peak_tflops(args.device, args.peak_tflops)
    train = train_rows(args, flops, peak)
    train_packed = train_rows(args, flops, peak, packed=True)
    generate = generate_rows(args)
    on_gpu = args.device.type == "cuda"
    device = torch.cuda.get_device_name(args.device) if on_gpu else f"cpu threads={torch.get_num_threads()}"
    shape = {k: getattr(args, k) for k in (*SEVEN_B, "batch", "seq", "prompt", "new", "checkpointing")}
    result = rounded(
        {
            "device": device,
            "dtype": str(args.dtype).removeprefix("torch."),
            "peak_tflops": peak,
            "shape": shape,
            "flops_per_step": flops,
            "train": train,
            "moka_vs_lora_step": ratio(train, "step_s", "moka", "lora"),
            "train_packed": train_packed,
            "moka_vs_lora_packed_step": ratio(train_packed, "step_s", "moka", "lora"),
            "generate": generate,
            "moka_folded_vs_lora_merged_decode": ratio(generate, "decode_tok_s", "moka_folded", "lora_merged"),
        }
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
