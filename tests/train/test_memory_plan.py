"""The memory planner (train/memory_plan.py): parameter counts equal meta-device models exactly,
the activation model is within 15 % of the bytes autograd keeps for backward (saved_tensors_hooks)
on small LLaMA and Qwen2 models, with and without adapters and dropout, in fp32 and bf16; the
largest micro-batch is the boundary of what fits; validate prints it."""

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

from moka_train.adapters import AdapterSpec, RoutingSlot, apply_adapters
from moka_train.train.memory_plan import (
    GIB,
    Counts,
    DecoderShape,
    Setup,
    activation_bytes,
    adapter_shape,
    decoder_parameters,
    largest_micro_batch,
    per_gpu_bytes,
    total_bytes,
)

SHAPE = "vocab_size hidden_size intermediate_size num_hidden_layers num_attention_heads num_key_value_heads".split()


def decoder_config(family: str, *shape: int):
    """A LLaMA or Qwen2 config of ``shape``: the values of SHAPE's fields, in its order."""
    cls = LlamaConfig if family == "llama" else Qwen2Config
    return cls(**dict(zip(SHAPE, shape, strict=True)), tie_word_embeddings=False)


# the published shapes (config.json of each release): vocab, hidden, intermediate, layers, heads, kv heads
LLAMA2_7B = decoder_config("llama", 32000, 4096, 11008, 32, 32, 32)
LLAMA3_8B = decoder_config("llama", 128256, 4096, 14336, 32, 32, 8)
QWEN25_7B = decoder_config("qwen2", 152064, 3584, 18944, 28, 28, 4)


@pytest.mark.parametrize("config", [LLAMA2_7B, LLAMA3_8B, QWEN25_7B], ids=["llama2_7b", "llama3_8b", "qwen25_7b"])
def test_decoder_parameters_equal_the_meta_device_model(config):
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    assert decoder_parameters(DecoderShape.from_config(config)) == sum(p.numel() for p in model.parameters())


def saved_bytes(model, spec, dtype, tokens=(2, 48)) -> int:
    """Bytes of the distinct non-parameter storages autograd keeps for one forward of the decoder."""
    slot = RoutingSlot(2)
    if spec is not None:
        apply_adapters(model, spec, slot)
    model.to(dtype).train()
    mod = torch.zeros(*tokens, dtype=torch.long)
    mod[:, 2:14], mod[:, 14:24], mod[:, 24:30] = 2, 3, 1
    slot.set(mod)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}

    def pack(tensor):
        ptr = tensor.untyped_storage().data_ptr()
        if ptr not in params:
            kept[ptr] = tensor.untyped_storage().nbytes()
        return tensor

    embeds = torch.randn(*tokens, model.config.hidden_size, dtype=dtype, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model.model(inputs_embeds=embeds, use_cache=False)
    return sum(kept.values())


CASES = [
    ("llama", 96, 192, 4, 2, None, 0.0),
    ("llama", 128, 352, 8, 2, "lora", 0.0),
    ("llama", 96, 256, 4, 4, "lora", 0.05),
    ("llama", 64, 224, 4, 2, "moka", 0.05),
    ("qwen2", 96, 192, 4, 2, "moka", 0.0),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("family,d,inter,heads,kv,method,dropout", CASES)
def test_activation_model_within_15_percent_of_saved_bytes(family, d, inter, heads, kv, method, dropout, dtype):
    config = decoder_config(family, 64, d, inter, 3, heads, kv)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    spec = (
        None if method is None else AdapterSpec(method=method, rank=4, dropout=dropout, modalities=("video", "audio"))
    )
    if spec is None:
        model.requires_grad_(False)
    measured = saved_bytes(model, spec, dtype)
    adapter = None if spec is None else adapter_shape(spec)
    element = torch.finfo(dtype).bits // 8
    predicted = activation_bytes(DecoderShape.from_config(config), adapter, 2 * 48, element, checkpointing=False)
    assert abs(predicted / measured - 1) < 0.15, (predicted, measured)


def test_largest_micro_batch_is_where_the_total_crosses_the_memory():
    shape = DecoderShape.from_config(LLAMA3_8B)
    adapter = adapter_shape(AdapterSpec(method="moka", rank=4, dropout=0.05, modalities=("video", "audio")))
    counts = Counts(llm=8_030_261_248, trainable=20_000_000, frozen_other=0)
    setup = Setup(8, 40, 2, False, False, 2, 4, 2048, True, 0.1)
    best = largest_micro_batch(counts, shape, adapter, setup)
    at = lambda micro: total_bytes(per_gpu_bytes(counts, shape, adapter, setup, micro), True)  # noqa: E731
    assert best > 1 and at(best) <= 40 * GIB < at(best + 1)
    zero3 = Setup(8, 40, 3, False, False, 2, 4, 2048, True, 0.1)
    assert per_gpu_bytes(counts, shape, adapter, zero3, 4)["weights"] * 8 == pytest.approx(counts.llm * 2 + 40e6)


def test_validate_prints_the_memory_plan_of_the_recipe(workspace, monkeypatch, capsys):
    from moka_train.cli import main

    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    config = __import__("pathlib").Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"
    assert main(["validate", "--config", str(config), "--gpus", "2", "--gpu-memory-gb", "1", "--seq", "128"]) == 0
    out = capsys.readouterr().out
    plan = out[out.index("# --- memory per GPU") :]
    assert "#     seq: 128" in plan and "#     gpus: 2" in plan and "largest_micro_batch: " in plan
    assert "not_counted: []" in plan  # the tiny LLM, CLIP and BEATs all have their metadata on disk
    assert main(["validate", "--config", str(config), "--gpus", "0", "--gpu-memory-gb", "1"]) == 2
    assert "--gpus must be >= 1" in capsys.readouterr().err
