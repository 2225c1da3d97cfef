"""A randomly initialised LLaMA-shaped model with adapters, and its inputs, for the benchmarks:
the settings, FLOP counting, the model built straight on the device, batches routed like the
paper's AV sample (one sample per row or packed), and device helpers."""

from __future__ import annotations

import argparse
import gc
from dataclasses import dataclass, fields

import torch

from moka_train.adapters import AdapterSpec, RoutingSlot, adapter_modules, apply_adapters
from moka_train.modality import QUERY, TEXT, modality_id

SEVEN_B = dict(hidden=4096, layers=32, intermediate=11008, heads=32, vocab=32000)
# the shape settings (SEVEN_B's keys, also the flags) under their LlamaConfig names
LLAMA_CONFIG_NAMES = {
    "hidden": "hidden_size",
    "layers": "num_hidden_layers",
    "intermediate": "intermediate_size",
    "heads": "num_attention_heads",
    "vocab": "vocab_size",
}
TINY = dict(hidden=64, layers=2, intermediate=128, heads=4, vocab=512, batch=2, seq=64, prompt=32, new=4)
# the LLaMA shape the CPU benchmarks share (hidden 1024: GEMMs dominate, as on a real backbone);
# each benchmark adds its own depth, batch and lengths
CPU_LLAMA_SHAPE = dict(device="cpu", dtype="float32", hidden=1024, intermediate=2752, heads=16, vocab=8000)
# bf16 dense peak TFLOP/s by device-name substring; A100 before A10 because substrings overlap
PEAK_TFLOPS = (("H100", 989.0), ("H200", 989.0), ("A100", 312.0), ("L40S", 362.0), ("A10", 125.0), ("RTX 4090", 165.0))
# the paper's AV sample: text prefix, video, audio, query text (then the text answer)
LAYOUT = ((TEXT, 8), (modality_id(0), 320), (modality_id(1), 320), (QUERY, 48))
PACKED_SAMPLES = 4  # samples per row in the packed variant
DTYPES = ("bfloat16", "float16", "float32")


@dataclass
class LlamaBench:
    """Model shape, inputs and measurement of the LLaMA-shaped benchmarks (defaults: 7B, bf16)."""

    hidden: int = SEVEN_B["hidden"]
    layers: int = SEVEN_B["layers"]
    intermediate: int = SEVEN_B["intermediate"]
    heads: int = SEVEN_B["heads"]
    vocab: int = SEVEN_B["vocab"]
    batch: int = 8
    seq: int = 2048  # training sequence length
    prompt: int = 1024  # generation prompt length
    new: int = 128  # decoded tokens
    steps: int = 10  # timed training rounds
    warmup: int = 2
    reps: int = 2  # timed generations
    methods: tuple[str, ...] = ("lora", "moka")
    checkpointing: bool = True
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.bfloat16
    peak_tflops: float | None = None  # device peak; None: looked up by GPU name


def add_llama_arguments(parser: argparse.ArgumentParser) -> None:
    """The settings' flags; every default is None so that ``llama_settings`` can tell an explicit
    flag from a benchmark's preset."""
    parser.add_argument("--tiny", action="store_true", help="a toy shape for CPU tests (explicit flags still win)")
    for name in SEVEN_B:
        parser.add_argument(f"--{name}", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None, help="default 8 (tiny: 2)")
    parser.add_argument("--seq", type=int, default=None, help="training sequence length, default 2048")
    parser.add_argument("--prompt", type=int, default=None, help="generation prompt length, default 1024")
    parser.add_argument("--new", type=int, default=None, help="decoded tokens, default 128")
    parser.add_argument("--steps", type=int, default=None, help="default 10")
    parser.add_argument("--warmup", type=int, default=None, help="default 2")
    parser.add_argument("--reps", type=int, default=None, help="timed generation repetitions, default 2")
    parser.add_argument("--methods", nargs="+", default=None, help="default: lora moka")
    parser.add_argument("--no-checkpointing", dest="checkpointing", action="store_const", const=False, default=None)
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--dtype", default=None, choices=DTYPES, help="default bfloat16")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak; default: looked up by GPU name")


def llama_settings(flags: argparse.Namespace, preset: dict | None = None) -> LlamaBench:
    """Settings from parsed flags: an explicit flag wins over the benchmark's ``preset``, which
    wins over ``TINY`` (with ``--tiny``), which wins over the 7B defaults."""
    values = {**(TINY if getattr(flags, "tiny", False) else {}), **(preset or {})}
    explicit = {f.name: getattr(flags, f.name, None) for f in fields(LlamaBench)}
    values.update({name: value for name, value in explicit.items() if value is not None})
    return make_settings(**values)


def make_settings(**values) -> LlamaBench:
    """``LlamaBench`` with device and dtype given by name (``"cuda"``, ``"float32"``)."""
    device = values.pop("device", None) or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = values.pop("dtype", "bfloat16")
    if isinstance(dtype, str) and dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")
    if "methods" in values:
        values["methods"] = tuple(values["methods"])
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    return LlamaBench(device=torch.device(device), dtype=dtype, **values)


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
def llama_config(settings: LlamaBench):
    """The ``LlamaConfig`` of the settings' shape, with full multi-head attention (as LLaMA-7B)."""
    from transformers import LlamaConfig

    shape = {hf_name: getattr(settings, name) for name, hf_name in LLAMA_CONFIG_NAMES.items()}
    return LlamaConfig(**shape, num_key_value_heads=settings.heads)


def build(settings: LlamaBench, method: str | None):
    """Random model on the device (built there: a 7B model never passes through host memory),
    with the method's adapters when one is named."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with torch.device(settings.device):
        model = AutoModelForCausalLM.from_config(llama_config(settings), dtype=settings.dtype)
    model.to(settings.device)
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


def routed_batch(settings: LlamaBench, batch: int, length: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids and modality_ids [B, length] in the AV layout, segments shrunk to fit a short
    sequence (each keeps at least one token, a quarter of the sequence stays answer text)."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(3, settings.vocab, (batch, length), generator=gen)
    mod = torch.full_like(ids, TEXT)
    scale = min(1.0, 0.75 * length / sum(n for _, n in LAYOUT))
    start = 0
    for kind, count in LAYOUT:
        end = min(length, start + max(1, round(count * scale)))
        mod[:, start:end] = kind
        start = end
    return ids.to(device), mod.to(device)


def packed_batch(settings: LlamaBench, batch: int, length: int, device) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """ids and modality_ids [B, length] holding ``PACKED_SAMPLES`` samples per row, each in the AV
    layout of its own length, with their position ids (restarting per sample) and segment ids:
    what a packed training batch (``data.packing``) gives the backbone and the routing."""
    per = length // PACKED_SAMPLES
    ids, _ = routed_batch(settings, batch, length, device)
    _, sample_mod = routed_batch(settings, 1, per, device)
    mod = torch.full_like(ids, TEXT)
    mod[:, : per * PACKED_SAMPLES] = sample_mod.repeat(1, PACKED_SAMPLES)
    sample = torch.arange(length, device=device).clamp(max=per * PACKED_SAMPLES - 1) // per  # the last takes the rest
    starts = torch.arange(PACKED_SAMPLES, device=device) * per
    positions = torch.arange(length, device=device) - starts[sample]
    segments = sample[None, :] + PACKED_SAMPLES * torch.arange(batch, device=device)[:, None]
    return ids, mod, {"position_ids": positions.expand(batch, -1), "segment_ids": segments}


# --- device -----------------------------------------------------------------------------------
def release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def synchronizer(device: torch.device):
    """What the timer calls to wait for queued device work: a CUDA synchronize, None elsewhere."""
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu threads={torch.get_num_threads()}"
