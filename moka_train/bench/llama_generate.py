"""Generation rows of the LLaMA-shaped benchmarks: greedy decoding with the KV cache, prefill and
decode tokens/s for the base model, LoRA (unmerged, merged) and MokA (unfolded, text path folded)."""

from __future__ import annotations

import statistics

import torch

from moka_train.adapters import fold_text_path, merge_text_path
from moka_train.bench.llama import LlamaBench, build, release, routed_batch, synchronizer
from moka_train.bench.timing import Schedule, interleaved_samples

GENERATE_KINDS = {"base": None, "lora": "lora", "lora_merged": "lora", "moka": "moka", "moka_folded": "moka"}
GPU_KINDS = ("base", "lora_merged", "moka", "moka_folded")


def generation_model(settings: LlamaBench, kind: str):
    """A model in eval mode: LoRA merged into W0 (text-only serving), or MokA with its text path
    folded for decoding (``fold_text_path``, what evaluation runs; prefill runs the full path)."""
    model, slot = build(settings, GENERATE_KINDS[kind])
    model.eval()
    if kind == "lora_merged":
        merge_text_path(model)
    if kind == "moka_folded":
        fold_text_path(model)
    return model, slot


class Generation:
    """Greedy generations with the KV cache, advanced one step per call: the prefill, then
    ``new`` decode steps, then the next generation's prefill."""

    def __init__(self, model, slot, ids: torch.Tensor, mod: torch.Tensor, new: int) -> None:
        self.model, self.slot, self.ids, self.mod, self.new = model, slot, ids, mod, new
        self.calls = 0

    def __call__(self) -> None:
        step, self.calls = self.calls % (self.new + 1), self.calls + 1
        self.decode() if step else self.prefill()

    def prefill(self) -> None:
        self.slot.set(self.mod)
        self.out = self.model(input_ids=self.ids, use_cache=True, logits_to_keep=1)  # as generate() does

    def decode(self) -> None:  # a cache that already holds tokens switches the adapters to decode
        token = self.out.logits[:, -1:].argmax(-1)
        self.out = self.model(input_ids=token, past_key_values=self.out.past_key_values, use_cache=True)


def generate_rows(settings: LlamaBench, kinds: tuple[str, ...] = GPU_KINDS) -> dict:
    """Prefill and decode tokens/s per kind: the median prefill and the median decode step over
    ``settings.reps`` generations (plus one warm-up). The kinds take turns at every single step, in
    a random order each step (a fixed rotation would always run a kind right after the same other
    one, and what that one leaves in the caches biased the ratios by up to 6 %), so that the
    machine's drift and bursts hit every kind alike."""
    release(settings.device)
    models = {kind: generation_model(settings, kind) for kind in kinds}
    ids, mod = routed_batch(settings, settings.batch, settings.prompt, settings.device)
    turns = settings.new + 1  # one generation: the prefill and the decode steps
    runs = {kind: Generation(*models[kind], ids, mod, settings.new) for kind in kinds}
    schedule = Schedule(rounds=settings.reps * turns, warmup=turns, order="shuffled", seed=0)
    with torch.no_grad():
        samples = interleaved_samples(runs, schedule, sync=synchronizer(settings.device))
    rows = {}
    for kind, seconds in samples.items():
        prefill = seconds[::turns]
        decode = [s for index, s in enumerate(seconds) if index % turns]
        rows[kind] = {
            "prefill_tok_s": ids.numel() / statistics.median(prefill),
            "decode_tok_s": ids.shape[0] / statistics.median(decode),
        }
    return rows
