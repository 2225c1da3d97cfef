"""Benchmark machinery shared by ``scripts/bench_*.py``: one interleaved timer, the LLaMA-shaped
models, batches and rows, and the measured runs of each benchmark; the scripts only parse their
flags, call one function here and print its JSON."""
