"""The LLaMA-shaped benchmark (``moka_train.bench``, run by scripts/bench_gpu.py): its FLOP count
against a hand calculation, its settings' precedence, and a tiny CPU run end to end (in process,
and the script as a user runs it)."""

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from moka_train.bench.gpu import gpu_report
from moka_train.bench.llama import (
    SEVEN_B,
    TINY,
    add_llama_arguments,
    llama_settings,
    make_settings,
    peak_tflops,
    train_flops_per_step,
)

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


def tiny_config():
    from transformers import LlamaConfig

    shape = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)
    return LlamaConfig(**shape, num_key_value_heads=4, vocab_size=512)


def test_flops_match_a_hand_calculation():
    # per layer: q, k, v, o 4·64·64 = 16384; gate, up, down 3·64·128 = 24576 -> 40960; 2 layers 81920
    # lm_head 64·512 = 32768 -> N_matmul 114688; tokens 2·64 = 128
    # causal attention forward per token: 2·2·L·T·h / 2 = 2·2·2·64·64 / 2 = 16384
    # forward 2·114688 + 16384 = 245760; backward (input grads only) 2·114688 + 2·16384 = 262144
    # recompute (decoder layers only) 2·81920 + 16384 = 180224
    # all parameters: 114688 + embeddings 32768 + norms (2·2+1)·64 = 320 -> 147776
    flops = train_flops_per_step(tiny_config(), batch=2, seq=64)
    assert flops == {
        "model": 128 * (245760 + 262144),
        "hardware": 128 * (245760 + 262144 + 180224),
        "six_n": 6 * 147776 * 128,
    }
    assert train_flops_per_step(tiny_config(), 2, 64, checkpointing=False)["hardware"] == 128 * 507904


def test_flop_parameter_count_is_the_models():
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(tiny_config())
    six_n = train_flops_per_step(tiny_config(), batch=1, seq=1)["six_n"]
    assert six_n == 6 * sum(p.numel() for p in model.parameters())


def test_peak_lookup():
    assert peak_tflops(torch.device("cpu"), None) is None
    assert peak_tflops(torch.device("cpu"), 2.5) == 2.5


def parsed(argv: list[str], preset: dict | None = None):
    parser = argparse.ArgumentParser()
    add_llama_arguments(parser)
    return llama_settings(parser.parse_args(argv), preset)


def test_settings_precedence_flag_over_preset_over_tiny_over_7b():
    seven_b = parsed([])
    assert (seven_b.hidden, seven_b.layers, seven_b.batch, seven_b.seq, seven_b.dtype) == (
        SEVEN_B["hidden"],
        SEVEN_B["layers"],
        8,
        2048,
        torch.bfloat16,
    )
    assert (seven_b.steps, seven_b.warmup, seven_b.reps, seven_b.methods, seven_b.checkpointing) == (
        10,
        2,
        2,
        ("lora", "moka"),
        True,
    )
    preset = {"hidden": 1024, "layers": 6, "dtype": "float32", "checkpointing": False}
    got = parsed(["--tiny", "--layers", "3", "--no-checkpointing", "--methods", "moka"], preset)
    # --layers beats the preset's 6; the preset's hidden beats TINY's 64; TINY's seq beats 2048
    assert (got.layers, got.hidden, got.seq, got.heads) == (3, 1024, TINY["seq"], TINY["heads"])
    assert got.dtype == torch.float32
    assert (got.checkpointing, got.methods) == (False, ("moka",))
    assert got.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match=r"dtype must be one of \['bfloat16', 'float16', 'float32'\], got 'int8'"):
        make_settings(dtype="int8")


def run_script(extra: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *TINY_RUN, *extra], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # the one JSON line


def test_tiny_cpu_run_without_peak():
    # without checkpointing, so the saved activations include every layer's (with it, only the
    # layer inputs are kept, the same for every method)
    settings = make_settings(**TINY, device="cpu", dtype="float32", steps=2, warmup=1, reps=1, checkpointing=False)
    out = gpu_report(settings)
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


def test_tiny_cpu_run_with_peak():
    # the script as a user runs it: its flags reach the settings, it prints the report as JSON;
    # 100 TFLOP/s is far above what a CPU reaches on this toy model, so 0 < MFU < 1 must hold
    out = run_script(["--peak-tflops", "100", "--methods", "lora", "--steps", "1", "--warmup", "0", "--new", "1"])
    assert out["device"].startswith("cpu threads=") and (out["dtype"], out["peak_tflops"]) == ("float32", 100)
    assert out["shape"] == {**TINY, "new": 1, "checkpointing": True}  # the later --new wins
    assert sorted(out["train"]) == sorted(out["train_packed"]) == ["lora"]
    row = out["train"]["lora"]
    assert 0 < row["mfu"] < row["hfu"] < 1  # checkpointing recomputes: hardware FLOPs exceed model FLOPs
    assert 0 < row["mfu_6n"] < 1
    assert out["moka_vs_lora_step"] is None  # moka did not run
