"""Per-GPU memory of a recipe's fine-tuning stage, before it runs (``moka-train validate --gpus N
--gpu-memory-gb M``), and the largest micro-batch that fits.

Parameters are counted on the meta device (``model.summary``: the LLM from its config.json, the
adapters applied to it, the projectors from their encoders' widths, the frozen encoders from their
metadata); the LLM's count is also given in closed form (``decoder_parameters``, tested equal).
Bytes per parameter, with ``e`` the model dtype's size and DeepSpeed's mixed precision:

* weights: every parameter in ``e`` (ZeRO-3: divided over the GPUs; ``offload_param``: none);
* gradients of the trainable parameters in ``e`` (ZeRO-2/3: divided over the GPUs);
* optimizer states (Adam): fp32 master weights, first and second moments, 12 bytes per trainable
  parameter (ZeRO-1/2/3: divided; ``offload_optimizer``: on the host, none on the GPU).

Activations (bytes kept for backward per token and decoder layer, LLaMA/Qwen layers with SDPA,
frozen base, ``d`` hidden, ``I`` intermediate, ``kv`` key/value width, ``H`` heads, ``n`` adapted
linears of rank ``r`` and ``M`` adapters each; measured op by op with ``saved_tensors_hooks``,
tests/train/test_memory_plan.py checks the sum within 15 %):

* base layer: the two RMSNorms keep their input and normalised states in fp32 (``4d`` floats),
  the MLP its gate, up and activation (``3I``), attention the rotated keys and values (``2kv``)
  and one log-sum-exp per head (``H``), plus two norm scales;
* adapters: the normed inputs of attention and MLP and the down projection's input (``2d + I``),
  the rank vectors (``n·M·r``); dropout > 0 adds its outputs and masks (``10d + I``);
* with activation checkpointing: each layer's input only, plus one layer's activations while it
  is recomputed;
* the loss (``model.answer_loss``): one chunk of fp32 logits, its log-softmax and gradient.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

GIB = 2**30
ADAM_BYTES = 12  # fp32 master weight + exp_avg + exp_avg_sq
LOSS_CHUNK_COPIES = 3  # logits, log-softmax and their gradient of one chunk (fp32)
RUNTIME_RESERVE_GIB = 2.0  # CUDA context, NCCL buffers, allocator fragmentation: a stated margin


@dataclass(frozen=True)
class DecoderShape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool = False
    qkv_bias: bool = False  # Qwen2 / Qwen2.5

    @classmethod
    def from_config(cls, config) -> DecoderShape:
        config = getattr(config, "text_config", None) or config
        heads = config.num_attention_heads
        return cls(
            hidden=config.hidden_size,
            intermediate=config.intermediate_size,
            layers=config.num_hidden_layers,
            heads=heads,
            kv_heads=getattr(config, "num_key_value_heads", None) or heads,
            head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads,
            vocab=config.vocab_size,
            tied=bool(getattr(config, "tie_word_embeddings", False)),
            qkv_bias=getattr(config, "model_type", "") in ("qwen2", "qwen2_5_vl_text", "qwen2_5_vl"),
        )

    @property
    def kv(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def q(self) -> int:
        return self.heads * self.head_dim


def decoder_parameters(shape: DecoderShape) -> int:
    """Parameters of a LLaMA / Qwen2 decoder-only LM in closed form."""
    d, i, q, kv = shape.hidden, shape.intermediate, shape.q, shape.kv
    attention = d * q + 2 * d * kv + q * d + ((q + 2 * kv) if shape.qkv_bias else 0)
    layer = attention + 3 * d * i + 2 * d  # q/k/v/o, gate/up/down, two norms
    embeddings = shape.vocab * d * (1 if shape.tied else 2)
    return shape.layers * layer + embeddings + d  # + the final norm


@dataclass(frozen=True)
class AdapterShape:
    linears_per_layer: int  # adapted linears in one decoder layer
    rank: int
    adapters: int  # A matrices per linear whose rank vectors every token computes (MokA: all of them)
    dropout: float
    d_inputs: int  # of those linears, how many read a d-wide input (the rest read I)


def layer_activation_floats(shape: DecoderShape, adapter: AdapterShape | None) -> float:
    """Floats kept for backward per token in one decoder layer (see the module docstring)."""
    d, i = shape.hidden, shape.intermediate
    floats = 4 * d + 3 * i + 2 * shape.kv + shape.heads + 2
    if adapter is not None:
        floats += 2 * d + i + adapter.linears_per_layer * adapter.adapters * adapter.rank
        if adapter.dropout > 0:
            floats += 10 * d + i
    return floats


def activation_bytes(
    shape: DecoderShape, adapter: AdapterShape | None, tokens: int, dtype_bytes: int, checkpointing: bool
) -> int:
    """Bytes kept for backward by the decoder stack for ``tokens`` tokens (batch x sequence)."""
    # the two norms' fp32 states are 4 bytes whatever the model dtype; the rest is in the model dtype
    per_layer = layer_activation_floats(shape, adapter)
    norm_bytes = 4 * shape.hidden * (4 - dtype_bytes) if dtype_bytes < 4 else 0
    layer = tokens * (per_layer * dtype_bytes + norm_bytes)
    if not checkpointing:
        return shape.layers * layer
    return shape.layers * tokens * shape.hidden * dtype_bytes + layer  # inputs kept, one layer recomputed


def loss_bytes(shape: DecoderShape, answer_tokens: int, chunk_rows: int) -> int:
    """Peak bytes of the chunked loss: one chunk of fp32 logits, its log-softmax and its gradient."""
    rows = min(answer_tokens, chunk_rows)
    return LOSS_CHUNK_COPIES * rows * shape.vocab * 4


@dataclass(frozen=True)
class Counts:
    llm: int
    trainable: int  # adapters + the stage's trainable projectors
    frozen_other: int  # encoders (frozen) and projectors the stage does not train


@dataclass(frozen=True)
class Setup:
    gpus: int
    gpu_memory_gb: float
    zero_stage: int
    offload_optimizer: bool
    offload_param: bool
    dtype_bytes: int
    micro_batch: int
    seq: int
    checkpointing: bool
    answer_fraction: float


def per_gpu_bytes(counts: Counts, shape: DecoderShape, adapter: AdapterShape | None, setup: Setup, micro: int) -> dict:
    """Every term of one GPU's memory at micro-batch ``micro``, in bytes."""
    from ..model.answer_loss import chunk_rows

    n, e = setup.gpus, setup.dtype_bytes
    all_params = counts.llm + counts.trainable + counts.frozen_other
    weights = 0 if setup.offload_param else all_params * e / (n if setup.zero_stage == 3 else 1)
    grads = counts.trainable * e / (n if setup.zero_stage >= 2 else 1)
    optimizer = 0 if setup.offload_optimizer else counts.trainable * ADAM_BYTES / (n if setup.zero_stage >= 1 else 1)
    tokens = micro * setup.seq
    answers = max(1, round(tokens * setup.answer_fraction))
    return {
        "weights": weights,
        "gradients": grads,
        "optimizer": optimizer,
        "activations_checkpointed": activation_bytes(shape, adapter, tokens, e, True),
        "activations_full": activation_bytes(shape, adapter, tokens, e, False),
        "loss": loss_bytes(shape, answers, chunk_rows(shape.vocab)),
        "reserve": RUNTIME_RESERVE_GIB * GIB,
    }


def total_bytes(terms: dict, checkpointing: bool) -> float:
    skip = "activations_full" if checkpointing else "activations_checkpointed"
    return sum(v for k, v in terms.items() if k != skip)


def largest_micro_batch(counts, shape, adapter, setup: Setup, limit: int = 256) -> int:
    """The largest micro-batch whose total fits ``gpu_memory_gb`` (0: not even one sample)."""
    budget, best = setup.gpu_memory_gb * GIB, 0
    for micro in range(1, limit + 1):
        if total_bytes(per_gpu_bytes(counts, shape, adapter, setup, micro), setup.checkpointing) > budget:
            break
        best = micro
    return best


def plan(counts: Counts, shape: DecoderShape, adapter: AdapterShape | None, setup: Setup) -> dict:
    """The report: each term in GiB at the recipe's micro-batch, the totals with and without
    checkpointing, and the largest micro-batch that fits."""
    terms = per_gpu_bytes(counts, shape, adapter, setup, setup.micro_batch)
    gib = {k: round(v / GIB, 2) for k, v in terms.items()}
    return {
        "setup": asdict(setup),
        "parameters": asdict(counts),
        "per_gpu_gib": gib,
        "total_gib_with_checkpointing": round(total_bytes(terms, True) / GIB, 2),
        "total_gib_without_checkpointing": round(total_bytes(terms, False) / GIB, 2),
        "fits": total_bytes(terms, setup.checkpointing) <= setup.gpu_memory_gb * GIB,
        "largest_micro_batch": largest_micro_batch(counts, shape, adapter, setup),
        "note": f"reserve: {RUNTIME_RESERVE_GIB} GiB for the CUDA context, NCCL and fragmentation",
    }


# --- a recipe's counts and settings ---------------------------------------------------------------
ADAPTABLE = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj")
ADAPTABLE_MLP = ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def adapter_shape(spec) -> AdapterShape:
    """The adapted linears of one LLaMA/Qwen layer under ``spec``; MokA-family methods compute the
    rank vectors of every modality's A for every token, the others one."""
    names = [n for n in ADAPTABLE + ADAPTABLE_MLP if spec.matches(f"model.layers.0.{n}")]
    adapters = spec.num_adapters if spec.method.startswith("moka") else 1
    d_inputs = sum(1 for n in names if n != "mlp.down_proj")
    return AdapterShape(len(names), spec.rank, adapters, spec.dropout, d_inputs)


def encoder_parameters(enc) -> int | None:
    """A frozen encoder's parameters from its metadata on the meta device (None: not found)."""
    import torch

    path = Path(enc.path)
    if enc.type == "clip_hf" and (path / "config.json").is_file():
        from transformers import CLIPVisionConfig, CLIPVisionModel

        with torch.device("meta"):
            return _count(CLIPVisionModel(CLIPVisionConfig.from_pretrained(str(path))))
    if enc.type == "beats" and path.is_file():
        from ..encoders.beats import BEATs, BEATsConfig

        cfg = torch.load(path, map_location="meta", weights_only=True, mmap=True)["cfg"]
        with torch.device("meta"):
            return _count(BEATs(BEATsConfig.from_checkpoint(dict(cfg))))
    return None


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def recipe_counts(cfg) -> tuple[Counts, DecoderShape, AdapterShape, list[str]]:
    """Parameters of the recipe's last stage from meta-device models, and what could not be counted."""
    import torch
    from transformers import AutoConfig

    from ..config.backbones import backbone, is_native_vision
    from ..model.build import adapter_spec
    from ..model.summary import meta_whole_model, trainable_parameters

    llm_dir = Path(cfg.model.llm_path)
    if not (llm_dir / "config.json").is_file():
        raise FileNotFoundError(f"model.llm_path: no config.json under {str(llm_dir)!r}; the planner needs the shape")
    config = AutoConfig.from_pretrained(str(llm_dir))
    with torch.device("meta"):
        whole = meta_whole_model(cfg, config)  # a vision tower's weights are on the GPU too
        llm, language = _count(whole), backbone(cfg.model.backbone).adapted_module(whole)
    stage, notes = cfg.stages[-1], []
    chosen = set(stage.modalities or [m.name for m in cfg.model.modalities])
    trainable, frozen = 0, 0
    for role, count in trainable_parameters(cfg).items():
        if isinstance(count, str):
            notes.append(f"{role}: {count}")
        elif role == "adapter" or role.removeprefix("projector.") in chosen:
            trainable += count
        else:
            frozen += count
    for m in cfg.model.modalities:
        native = is_native_vision(m.encoder.type)  # counted in the backbone's own parameters
        count = None if native else encoder_parameters(m.encoder)
        if count is None and not native:
            notes.append(f"encoder.{m.name}: not counted (no metadata at {m.encoder.path!r})")
        frozen += count or 0
    shape = DecoderShape.from_config(language.config)
    return Counts(llm, trainable, frozen), shape, adapter_shape(adapter_spec(cfg.adapter, cfg.model)), notes


DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def recipe_plan(cfg, gpus: int, gpu_memory_gb: float, seq: int | None = None, answer_fraction: float = 0.1) -> dict:
    """``plan`` for the recipe's last (fine-tuning) stage on ``gpus`` GPUs of ``gpu_memory_gb``, at
    sequence length ``seq`` (default ``data.max_length``) and the recipe's micro-batch."""
    if gpus < 1 or gpu_memory_gb <= 0:
        raise ValueError(f"--gpus must be >= 1 and --gpu-memory-gb > 0, got {gpus} and {gpu_memory_gb}")
    counts, shape, adapter, notes = recipe_counts(cfg)
    deepspeed = cfg.train.deepspeed
    setup = Setup(
        gpus=gpus,
        gpu_memory_gb=gpu_memory_gb,  # a card's "80 GB" of HBM is 80 GiB (81,559 MiB on an H100 80GB)
        zero_stage=deepspeed.zero_stage,
        offload_optimizer=deepspeed.offload_optimizer,
        offload_param=deepspeed.offload_param,
        dtype_bytes=DTYPE_BYTES[cfg.model.dtype],
        micro_batch=cfg.train.micro_batch_size,
        seq=seq or cfg.data.max_length,
        checkpointing=cfg.model.gradient_checkpointing,
        answer_fraction=answer_fraction,
    )
    return {**plan(counts, shape, adapter, setup), "not_counted": notes}
