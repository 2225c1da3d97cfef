"""Shared builders for adapter tests: a tiny HF causal LM with adapters and a mixed batch."""

import torch

from moka_train.adapters import (
    AdapterSpec,
    RoutingSlot,
    adapter_modules,
    apply_adapters,
    count_adapter_parameters,
    load_adapters,
    merge_text_path,
    save_adapters,
)
from moka_train.testing.llm import make_tiny_llm

VOCAB = 512


def adapted(family="llama", method="moka", modalities=("video", "audio"), seed=0, randomize_b=True, **spec_kw):
    model = make_tiny_llm(family, seed=seed, vocab_size=VOCAB)
    spec = AdapterSpec(method=method, rank=4, alpha=16.0, dropout=0.0, modalities=modalities, **spec_kw)
    slot = RoutingSlot(len(modalities))
    apply_adapters(model, spec, slot)
    if randomize_b:
        randomize_zero_params(model, seed)
    return model, slot, spec


def randomize_zero_params(model, seed=0):
    """Give zero-initialised adapter parameters values, so a wrong path changes the output."""
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in adapter_modules(model).values():
            for _, p in module.adapter_named_parameters():
                if p.abs().sum() == 0:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


def mixed_batch(batch=3, tokens=24, seed=0):
    """input_ids and modality_ids: [text][video x6][audio x4][query x5][answer...] with padding."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (batch, tokens), generator=gen)
    mod = torch.zeros(batch, tokens, dtype=torch.long)
    mod[:, 1:7] = 2
    mod[:, 7:11] = 3
    mod[:, 11:16] = 1
    mod[1, 11:13] = 1
    mod[1, 13:16] = 0  # shorter question in row 1
    attention = torch.ones(batch, tokens, dtype=torch.long)
    if batch > 2:  # right padding in the last row
        attention[-1, -3:] = 0
        mod[-1, -3:] = -1
    return ids, mod, attention


def cached_and_recomputed_greedy(model, slot, ids, mod, new=6):
    """Greedy tokens with the KV cache (prefill routing, then text-only decode steps) and by
    recomputing the whole sequence each step with generated tokens marked as text."""
    slot.set(mod)
    with torch.no_grad():
        cached = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new,
            do_sample=False,
            pad_token_id=0,
            eos_token_id=None,
        )[:, ids.shape[1] :]
        seq, seq_mod = ids, mod
        for _ in range(new):
            slot.set(seq_mod)
            nxt = model(input_ids=seq, use_cache=False).logits[:, -1].argmax(-1, keepdim=True)
            seq, seq_mod = torch.cat([seq, nxt], 1), torch.cat([seq_mod, torch.zeros_like(nxt)], 1)
    return cached, seq[:, ids.shape[1] :]


def assert_loads_back(saved, fresh, batch, path):
    """save_adapters of ``saved`` then load_adapters into ``fresh`` (each a (model, slot, spec)):
    the same logits on ``batch`` (ids, modality ids, attention mask)."""
    (model, slot, spec), (fresh_model, fresh_slot, _) = saved, fresh
    ids, mod, att = batch
    save_adapters(model, spec, path)
    load_adapters(fresh_model, path)
    slot.set(mod)
    fresh_slot.set(mod)
    with torch.no_grad():
        ours = model(input_ids=ids, attention_mask=att).logits
        assert torch.equal(ours, fresh_model(input_ids=ids, attention_mask=att).logits)


def assert_merge_is_exact(model, ids, att):
    """merge_text_path keeps the logits of a text-only batch (routing set by the caller) and
    leaves no adapter parameter."""
    with torch.no_grad():
        before = model(input_ids=ids, attention_mask=att).logits
        merge_text_path(model)
        after = model(input_ids=ids, attention_mask=att).logits
    assert (before - after).abs().max() <= 1e-5 * before.abs().max()
    assert count_adapter_parameters(model) == 0
