"""scripts/bench_gpu.py: its FLOP count against a hand calculation, and a tiny CPU run end to end."""

import importlib.util
import json
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_gpu.py"
TINY_RUN = [
    "--tiny",
    "--device",
    "cpu",
    "--dtype",
    "float32",
    "--steps",
    "2",
    "--warmup",
    "1",
    "--new",
    "4",
    "--prompt",
    "32",
    "--seq",
    "64",
    "--batch",
    "2",
    "--reps",
    "1",
]


@pytest.fixture(scope="module")
def bench():
    # scripts/ is not a package: load the file as a module
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_config():
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        vocab_size=512,
    )


def test_flops_match_a_hand_calculation(bench):
    # per layer: q, k, v, o 4·64·64 = 16384; gate, up, down 3·64·128 = 24576 -> 40960; 2 layers 81920
    # lm_head 64·512 = 32768 -> N_matmul 114688; tokens 2·64 = 128
    # causal attention forward per token: 2·2·L·T·h / 2 = 2·2·2·64·64 / 2 = 16384
    # forward 2·114688 + 16384 = 245760; backward (input grads only) 2·114688 + 2·16384 = 262144
    # recompute (decoder layers only) 2·81920 + 16384 = 180224
    # all parameters: 114688 + embeddings 32768 + norms (2·2+1)·64 = 320 -> 147776
    flops = bench.train_flops_per_step(tiny_config(), batch=2, seq=64)
    assert flops == {
        "model": 128 * (245760 + 262144),
        "hardware": 128 * (245760 + 262144 + 180224),
        "six_n": 6 * 147776 * 128,
    }
    assert bench.train_flops_per_step(tiny_config(), 2, 64, checkpointing=False)["hardware"] == 128 * 507904


def test_flop_parameter_count_is_the_models(bench):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(tiny_config())
    six_n = bench.train_flops_per_step(tiny_config(), batch=1, seq=1)["six_n"]
    assert six_n == 6 * sum(p.numel() for p in model.parameters())


def test_peak_lookup(bench):
    import torch

    assert bench.peak_tflops(torch.device("cpu"), None) is None
    assert bench.peak_tflops(torch.device("cpu"), 2.5) == 2.5


def run(bench, capsys, extra: list[str]) -> dict:
    result = bench.main(TINY_RUN + extra)
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == result
    return printed


def test_tiny_cpu_run_without_peak(bench, capsys):
    # without checkpointing, so the saved activations include every layer's (with it, only the
    # layer inputs are kept, the same for every method)
    out = run(bench, capsys, ["--no-checkpointing"])
    assert {
        "device",
        "shape",
        "train",
        "moka_vs_lora_step",
        "generate",
        "moka_folded_vs_lora_merged_decode",
    } <= out.keys()
    assert out["shape"]["hidden"] == 64 and out["shape"]["seq"] == 64
    assert sorted(out["train"]) == ["lora", "moka"]
    for row in out["train"].values():
        assert row["step_s"] > 0 and row["tokens_per_s"] > 0 and row["step_peak_mb"] is None  # CUDA only
        assert row["mfu"] is None and row["hfu"] is None and row["mfu_6n"] is None  # no peak known on a CPU
    ratio = out["moka_vs_lora_step"]
    assert math.isfinite(ratio) and ratio > 0
    # MokA keeps its rank-space vectors and attention weights: a little more than LoRA, never less
    lora, moka = out["train"]["lora"]["saved_activation_mb"], out["train"]["moka"]["saved_activation_mb"]
    assert lora < moka < 1.5 * lora
    assert sorted(out["generate"]) == ["base", "lora_merged", "moka", "moka_folded"]
    for row in out["generate"].values():
        assert row["prefill_tok_s"] > 0 and row["decode_tok_s"] > 0
    assert out["moka_folded_vs_lora_merged_decode"] > 0


def test_tiny_cpu_run_with_peak(bench, capsys):
    # 100 TFLOP/s is far above what a CPU reaches on this toy model, so 0 < MFU < 1 must hold
    out = run(bench, capsys, ["--peak-tflops", "100", "--methods", "lora"])
    row = out["train"]["lora"]
    assert 0 < row["mfu"] < row["hfu"] < 1  # checkpointing recomputes: hardware FLOPs exceed model FLOPs
    assert 0 < row["mfu_6n"] < 1
    assert out["moka_vs_lora_step"] is None  # moka did not run
