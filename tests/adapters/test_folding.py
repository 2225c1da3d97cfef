"""Decode-time folding of the text path into W0: same logits and tokens, plain matmuls in decode."""

import pytest
import torch
from helpers import adapted, mixed_batch

from moka_train.adapters import adapter_modules, available_methods, fold_text_path, get_method, unfold_text_path

FOLDABLE = [m for m in available_methods() if get_method(m).foldable]
NOT_FOLDABLE = [m for m in available_methods() if not get_method(m).foldable]


def test_the_paper_methods_fold_and_input_dependent_ones_do_not():
    assert {"lora", "moka", "moka_no_xattn", "multi_lora", "uni_mm_lora", "unimodal_lora"} <= set(FOLDABLE)
    # a router / gate / media-dependent decode path / a delta that reads W0 cannot be folded
    assert {"dora", "hydra_lora", "lora_moe", "uni_mm_lora_gate", "moka_text_query", "wander"} <= set(NOT_FOLDABLE)


def prefill_and_decode_logits(model, slot, ids, mod, attention):
    """Logits of a routed prefill and of two cached decode steps (text only)."""
    with torch.no_grad():
        slot.set(mod)
        out = model(input_ids=ids, attention_mask=attention, use_cache=True)
        logits, cache = [out.logits], out.past_key_values
        token = out.logits[:, -1:].argmax(-1)
        for _ in range(2):
            attention = torch.cat([attention, torch.ones_like(token)], 1)
            out = model(input_ids=token, attention_mask=attention, past_key_values=cache, use_cache=True)
            logits.append(out.logits)
            cache, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
    return logits


def assert_folding_keeps_the_logits(model, slot):
    model.eval()
    ids, mod, attention = mixed_batch()
    reference = prefill_and_decode_logits(model, slot, ids, mod, attention)
    fold_text_path(model)
    folded = prefill_and_decode_logits(model, slot, ids, mod, attention)
    for want, got in zip(reference, folded):
        torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("method", FOLDABLE)
def test_folded_model_gives_the_unfolded_logits_in_prefill_and_decode(method):
    model, slot, _ = adapted(method=method)
    assert_folding_keeps_the_logits(model, slot)


def test_folded_moka_decode_adds_nothing_to_the_base_matmul():
    """The point of folding: a decode step is the (folded) base layer alone."""
    model, slot, _ = adapted(method="moka")
    model.eval()
    fold_text_path(model)
    module = next(iter(adapter_modules(model).values()))
    calls = []
    module.delta = lambda x, routing: calls.append(routing) or torch.zeros(())
    x = torch.randn(2, 1, module.in_features)
    slot.decoding = True
    torch.testing.assert_close(module(x), module.base_layer(x))
    assert calls == []


def test_folded_greedy_generation_is_token_identical_with_batched_left_padding():
    model, slot, _ = adapted(method="moka")
    model.eval()
    ids, mod, _ = mixed_batch(batch=3, tokens=24)
    attention = torch.ones_like(ids)
    attention[0, :4], mod[0, :4] = 0, -1  # left padding, as in batched evaluation

    def greedy():
        slot.set(mod)
        with torch.no_grad():
            return model.generate(
                input_ids=ids,
                attention_mask=attention,
                max_new_tokens=8,
                do_sample=False,
                pad_token_id=0,
                eos_token_id=None,
            )

    reference = greedy()
    fold_text_path(model)
    assert torch.equal(greedy(), reference)


def test_partial_modality_probe_survives_folding():
    """With the probe, tokens of inactive modalities get no adapter at all: folding must then
    remove the text path it put into W0 for them."""
    model, slot, _ = adapted(method="moka")
    slot.active_ids = (0, 1, 2)  # text, query and video: audio tokens unadapted
    assert_folding_keeps_the_logits(model, slot)


def test_unfold_restores_the_base_weights_and_training_while_folded_is_refused():
    model, slot, _ = adapted(method="moka")
    before = {n: m.base_layer.weight.clone() for n, m in adapter_modules(model).items()}
    model.eval()
    fold_text_path(model)
    name, module = next(iter(adapter_modules(model).items()))
    assert not torch.allclose(module.base_layer.weight, before[name])
    model.train()
    ids, mod, attention = mixed_batch()
    slot.set(mod)
    with pytest.raises(RuntimeError, match="unfold_text_path"):
        model(input_ids=ids, attention_mask=attention)
    unfold_text_path(model)
    for n, m in adapter_modules(model).items():
        torch.testing.assert_close(m.base_layer.weight, before[n], atol=1e-6, rtol=0)
        assert not m.folded


@pytest.mark.parametrize("method", ["dora", "moka_text_query"])
def test_a_method_that_cannot_fold_is_named_and_nothing_is_folded(method):
    model, _, _ = adapted(method=method)
    model.eval()
    before = [m.base_layer.weight.clone() for m in adapter_modules(model).values()]
    with pytest.raises(NotImplementedError, match=method):
        fold_text_path(model)
    for weight, module in zip(before, adapter_modules(model).values()):
        assert torch.equal(module.base_layer.weight, weight) and not module.folded
