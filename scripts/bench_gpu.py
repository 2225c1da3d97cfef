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
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from moka_train.bench.gpu import gpu_report  # noqa: E402
from moka_train.bench.llama import add_llama_arguments, llama_settings  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_llama_arguments(parser)
    result = gpu_report(llama_settings(parser.parse_args(argv)))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
