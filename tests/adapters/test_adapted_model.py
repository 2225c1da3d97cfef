"""Adapters on real (tiny) LLaMA and Qwen2 models: identity at init, no leak, checkpointing,
decoding, save/load, merge, trainability and parameter counts."""

import pytest
import torch
from helpers import VOCAB, adapted, assert_loads_back, assert_merge_is_exact, cached_and_recomputed_greedy, mixed_batch

from moka_train.adapters import (
    AdapterSpec,
    RoutingSlot,
    adapter_state_dict,
    apply_adapters,
    load_adapters,
)
from moka_train.testing.llm import make_tiny_llm
from moka_train.utils.hf import enable_activation_checkpointing
from moka_train.utils.weights_format import ExportError

FAMILIES = ["llama", "qwen2"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", ["lora", "moka", "moka_no_xattn"])
def test_identity_at_init(family, method):
    base = make_tiny_llm(family, seed=3, vocab_size=VOCAB)
    model, slot, _ = adapted(family, method, seed=3, randomize_b=False)
    ids, mod, att = mixed_batch()
    slot.set(mod)
    with torch.no_grad():
        assert torch.equal(
            model(input_ids=ids, attention_mask=att).logits, base(input_ids=ids, attention_mask=att).logits
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_no_label_leak(family):
    model, slot, _ = adapted(family, "moka")
    ids, mod, att = mixed_batch()
    other = ids.clone()
    other[:, 16:] = torch.randint(5, VOCAB, other[:, 16:].shape)  # new answer tokens
    slot.set(mod)
    with torch.no_grad():
        h1 = model(input_ids=ids, attention_mask=att, output_hidden_states=True).hidden_states
        h2 = model(input_ids=other, attention_mask=att, output_hidden_states=True).hidden_states
    for a, b in zip(h1, h2):
        assert torch.equal(a[:, :16], b[:, :16])  # prompt, media and question positions
    assert not torch.equal(h1[-1][:, 16:], h2[-1][:, 16:])


def test_media_hidden_states_depend_on_the_question():
    # the cross-attention must really route: media positions see the (later) question text
    model, slot, _ = adapted("llama", "moka")
    ids, mod, att = mixed_batch()
    other = ids.clone()
    other[:, 11:16] = (other[:, 11:16] + 7) % VOCAB
    slot.set(mod)
    with torch.no_grad():
        h1 = model(input_ids=ids, attention_mask=att, output_hidden_states=True).hidden_states[-1]
        h2 = model(input_ids=other, attention_mask=att, output_hidden_states=True).hidden_states[-1]
    assert not torch.allclose(h1[:, 1:11], h2[:, 1:11])
    assert torch.equal(h1[:, :1], h2[:, :1])  # text before the media is untouched


def _grads(model, slot, checkpointing):
    ids, mod, att = mixed_batch()
    model.zero_grad()
    model.train()
    if checkpointing:
        enable_activation_checkpointing(model)
    calls = []
    probe = model.get_submodule("model.layers.0.self_attn.q_proj")
    handle = probe.register_forward_hook(lambda *a: calls.append(1))
    slot.set(mod)
    labels = ids.masked_fill(att == 0, -100)
    model(input_ids=ids, attention_mask=att, labels=labels).loss.backward()
    handle.remove()
    assert len(calls) == (2 if checkpointing else 1)  # the recompute really ran during backward
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("family", FAMILIES)
def test_gradient_checkpointing_gives_identical_gradients(family):
    model, slot, _ = adapted(family, "moka")
    plain = _grads(model, slot, checkpointing=False)
    checked = _grads(model, slot, checkpointing=True)
    assert plain.keys() == checked.keys() and plain
    for name in plain:
        assert torch.allclose(plain[name], checked[name], rtol=1e-5, atol=1e-7), name


def test_gradients_reach_only_adapter_parameters():
    model, slot, _ = adapted("llama", "moka")
    grads = _grads(model, slot, checkpointing=False)
    assert set(grads) == set(adapter_state_dict(model))
    assert all(g.abs().sum() > 0 for g in grads.values())
    assert all(p.grad is None for n, p in model.named_parameters() if n not in grads)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", ["moka", "lora"])
def test_cached_greedy_decoding_equals_full_recompute(family, method):
    model, slot, _ = adapted(family, method)
    ids, mod, _ = mixed_batch(batch=2, tokens=16, seed=4)
    cached, recomputed = cached_and_recomputed_greedy(model, slot, ids, mod)
    assert torch.equal(cached, recomputed)


def test_beam_search_repeats_routing_rows():
    model, slot, _ = adapted("llama", "moka")
    ids, mod, _ = mixed_batch(batch=2, tokens=16, seed=4)
    slot.set(mod)
    slot.expand_batch(2)  # HF generate repeats every row num_beams times in place
    with torch.no_grad():
        out = model.generate(
            input_ids=ids, max_new_tokens=3, num_beams=2, do_sample=False, pad_token_id=0, eos_token_id=None
        )
    assert out.shape == (2, 19)


@pytest.mark.parametrize("method", ["moka", "lora"])
def test_save_load_round_trip_and_strict_mismatch(tmp_path, method):
    fresh = adapted("qwen2", method, seed=1, randomize_b=False)
    ids, mod, _ = mixed_batch()
    assert_loads_back(adapted("qwen2", method, seed=1), fresh, (ids, mod, None), tmp_path)
    other, _, _ = adapted("qwen2", method, modalities=("video",), seed=1)
    if method == "moka":
        with pytest.raises(ExportError, match=r"unexpected keys \['model.layers.0.mlp.down_proj.lora_A.audio'"):
            load_adapters(other, tmp_path)


@pytest.mark.parametrize("method", ["moka", "lora"])
def test_merge_text_path_keeps_text_only_logits(method):
    model, slot, _ = adapted("llama", method)
    ids, _, att = mixed_batch()
    mod = torch.zeros_like(ids)
    mod[:, 3:8] = 1  # a question, no media
    slot.set(mod)
    assert_merge_is_exact(model, ids, att)


def test_apply_raises_when_nothing_matches_and_on_unknown_method():
    model = make_tiny_llm("llama", vocab_size=VOCAB)
    with pytest.raises(ValueError, match="no nn.Linear matched adapter targets"):
        apply_adapters(model, AdapterSpec(targets=("nope",), modalities=("video",)), RoutingSlot(1))
    with pytest.raises(ValueError, match="unknown adapter method 'mokka'.*moka"):
        apply_adapters(model, AdapterSpec(method="mokka", modalities=("video",)), RoutingSlot(1))


def test_partial_modality_probe_applies_adapters_only_to_named_tokens():
    model, slot, _ = adapted("llama", "moka")
    layer = model.get_submodule("model.layers.0.self_attn.q_proj")
    ids, mod, _ = mixed_batch()
    x = torch.randn(ids.shape[0], ids.shape[1], 64)
    slot.set(mod)
    full = layer(x) - layer.base_layer(x)
    slot.active_ids = (2,)  # video only
    slot.set(mod)
    probed = layer(x) - layer.base_layer(x)
    video = mod == 2
    assert torch.equal(probed[video], full[video])
    assert probed[~video].abs().max() == 0 and full[~video].abs().max() > 0
