"""Wander (moka_train/adapters/methods/wander.py): parameter formula, identity at init, no label leak,
trainability, save/load, cached decoding, and the CP fusion == explicit outer-product fusion."""

import functools

import pytest
import torch
from helpers import VOCAB, adapted, assert_loads_back, cached_and_recomputed_greedy, mixed_batch
from torch.nn import functional as F

from moka_train.adapters import (
    AdapterSpec,
    RoutingSlot,
    adapter_modules,
    adapter_state_dict,
    apply_adapters,
    count_adapter_parameters,
    merge_text_path,
)
from moka_train.adapters.methods.wander import WANDER_DEFAULT_TARGETS, WanderLinear
from moka_train.testing.llm import make_tiny_llm

SMALL = {"width": 3, "cp_rank": 2, "token_rank": 2, "max_tokens": 32}
PLACEMENTS = [WANDER_DEFAULT_TARGETS, ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")]


def wander_model(family="llama", targets=WANDER_DEFAULT_TARGETS, randomize_b=True, seed=0, **kw):
    return adapted(family, "wander", seed=seed, randomize_b=randomize_b, targets=targets, options=SMALL, **kw)


def expected_count(d, o, slots, r, R, L, caps):
    return slots * (r * d + r) + slots * R * (r + 1) * r + sum(caps) * R * L + slots * R * L + o * r


def test_parameter_shapes_and_count_match_the_formula():
    caps = {"text": 7, "video": 9, "audio": 4}
    spec = AdapterSpec(
        method="wander",
        modalities=("video", "audio"),
        dropout=0.0,
        options={"width": 5, "cp_rank": 3, "token_rank": 2, "max_tokens": caps},
    )
    layer = WanderLinear(torch.nn.Linear(24, 20), spec, RoutingSlot(2))
    shapes = {n: tuple(p.shape) for n, p in layer.adapter_named_parameters()}
    assert shapes == {
        **{f"down_weight.{m}": (5, 24) for m in ("text", "video", "audio")},
        **{f"down_bias.{m}": (5,) for m in ("text", "video", "audio")},
        **{f"feature_factor.{m}": (3, 6, 5) for m in ("text", "video", "audio")},
        "token_factor.text": (7, 3, 2),
        "token_factor.video": (9, 3, 2),
        "token_factor.audio": (4, 3, 2),
        **{f"slot_weight.{m}": (3, 2) for m in ("text", "video", "audio")},
        "up": (20, 5),
    }
    assert sum(p.numel() for _, p in layer.adapter_named_parameters()) == expected_count(24, 20, 3, 5, 3, 2, (7, 9, 4))
    ids, mod, _ = mixed_batch()
    slot = layer.slot
    slot.set(mod)
    assert layer.delta(torch.randn(3, 24, 24), slot.routing).shape == (3, 24, 20)
    with pytest.raises(ValueError, match="unknown wander options"):
        WanderLinear(torch.nn.Linear(24, 20), AdapterSpec(method="wander", options={"rnak": 2}), RoutingSlot(2))


def test_parameter_count_llama2_7b_paper_placement():
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(
        hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, vocab_size=32000
    )
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    spec = AdapterSpec(method="wander", targets=WANDER_DEFAULT_TARGETS, modalities=("video", "audio"))
    assert len(apply_adapters(model, spec, RoutingSlot(2))) == 32
    # defaults r=8, R=4, L=4, 1024 tokens per slot: 347,048 per down_proj
    assert count_adapter_parameters(model) == 11_105_536 == 32 * expected_count(11008, 4096, 3, 8, 4, 4, (1024,) * 3)


@pytest.mark.parametrize("family", ["llama", "qwen2"])
@pytest.mark.parametrize("targets", PLACEMENTS)
def test_identity_at_init(family, targets):
    base = make_tiny_llm(family, seed=3, vocab_size=VOCAB)
    model, slot, _ = wander_model(family, targets, randomize_b=False, seed=3)
    ids, mod, att = mixed_batch()
    slot.set(mod)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=att).logits
        assert torch.equal(out, base(input_ids=ids, attention_mask=att).logits)
    # the zero sits on U only: the fusion itself is live at init
    layer = next(iter(adapter_modules(model).values()))
    assert all(p.abs().sum() > 0 for n, p in layer.adapter_named_parameters() if n != "up")


def _hidden(model, ids, att):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=att, output_hidden_states=True).hidden_states


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_no_label_leak_and_the_fusion_routes(family):
    model, slot, _ = wander_model(family, PLACEMENTS[1])
    ids, mod, att = mixed_batch()
    slot.set(mod)
    h = _hidden(model, ids, att)
    answer = ids.clone()
    answer[:, 16:] = torch.randint(5, VOCAB, answer[:, 16:].shape)
    h_answer = _hidden(model, answer, att)
    for a, b in zip(h, h_answer):
        assert torch.equal(a[:, :16], b[:, :16])  # prompt, media and question positions
    assert not torch.equal(h[-1][:, 16:], h_answer[-1][:, 16:])
    # the fusion really mixes modalities: the (earlier) video positions see the audio and the question
    for span in (slice(7, 11), slice(11, 13)):
        other = ids.clone()
        other[:, span] = (other[:, span] + 7) % VOCAB
        assert not torch.allclose(_hidden(model, other, att)[-1][:, 1:7], h[-1][:, 1:7])


def _loss_grads(model, slot):
    ids, mod, att = mixed_batch()
    model.zero_grad()
    slot.set(mod)
    model(input_ids=ids, attention_mask=att, labels=ids.masked_fill(att == 0, -100)).loss.backward()
    return {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


def test_gradient_reaches_only_wander_parameters_and_no_factor_is_dead():
    model, slot, _ = wander_model("llama", PLACEMENTS[1], randomize_b=False)
    own = set(adapter_state_dict(model))
    assert {n for n, p in model.named_parameters() if p.requires_grad} == own
    grads = _loss_grads(model, slot)
    assert set(grads) == own
    # step 0: U = 0, so only U moves (as LoRA's B) ...
    assert all((g.abs().sum() > 0) == n.endswith(".up") for n, g in grads.items())
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith(".up"):
                p -= 0.1 * grads[n]
    # ... and after one step every factor of every layer gets a gradient (no product stuck at 0)
    grads = _loss_grads(model, slot)
    assert set(grads) == own and all(g.abs().sum() > 0 for g in grads.values())


def test_save_load_round_trip(tmp_path):
    saved = wander_model("qwen2", PLACEMENTS[1], seed=1)
    fresh = wander_model("qwen2", PLACEMENTS[1], randomize_b=False, seed=1)
    with torch.no_grad():  # nothing may survive from the fresh init
        for p in adapter_state_dict(fresh[0]).values():
            p.uniform_()
    assert_loads_back(saved, fresh, mixed_batch(), tmp_path)


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_cached_greedy_decoding_equals_full_recompute(family):
    model, slot, _ = wander_model(family, PLACEMENTS[1])
    ids, mod, _ = mixed_batch(batch=2, tokens=16, seed=4)
    cached, recomputed = cached_and_recomputed_greedy(model, slot, ids, mod)
    assert torch.equal(cached, recomputed)


def small_layer(num_media, seed=0, **options):
    names = tuple(f"m{i}" for i in range(num_media))
    spec = AdapterSpec(method="wander", modalities=names, dropout=0.0, options={**SMALL, **options})
    torch.manual_seed(seed)
    layer = WanderLinear(torch.nn.Linear(6, 5), spec, RoutingSlot(num_media))
    with torch.no_grad():  # U = 0 would hide every mistake, c = 1 every slot mix-up
        layer.up.normal_()
        for c in layer.slot_weight.values():
            c.normal_()
    return layer


def test_decode_step_equals_the_full_forward_at_that_position():
    layer = small_layer(2)
    ids, mod, _ = mixed_batch(batch=3, tokens=20, seed=2)
    mod[-1] = mod[-1].clamp(min=0)  # no padding in front of generated tokens
    x = torch.randn(3, 20, 6)
    with torch.no_grad():
        full = layer.delta(x, layer.slot.set(mod))  # the last 4 tokens are text (answer)
        layer.delta(x[:, :16], layer.slot.set(mod[:, :16]))  # prefill
        steps = [layer.delta(x[:, t : t + 1], None) for t in range(16, 20)]  # decode, one token each
    assert torch.allclose(torch.cat(steps, 1), full[:, 16:], rtol=1e-5, atol=1e-6)
    fresh = small_layer(2)
    with pytest.raises(RuntimeError, match="without a matching prefill"):
        fresh.delta(x[:, :1], None)


def test_too_many_tokens_for_the_token_factor_is_an_error():
    layer = small_layer(1, max_tokens=3)
    mod = torch.zeros(1, 10, dtype=torch.long)
    mod[0, 1:5] = 2  # 4 media tokens > 3
    with pytest.raises(ValueError, match="token factor too small"):
        layer.delta(torch.randn(1, 10, 6), layer.slot.set(mod))


def test_merge_is_refused():
    model, _, _ = wander_model()
    with pytest.raises(NotImplementedError, match="cannot be merged"):
        merge_text_path(model)


# --- the defining identity: CP-factorised fusion == the explicit outer-product fusion -----------


def explicit_delta(layer, x, mod):
    """Per sample and token, no shared code with the layer: build the full fusion tensor W from the
    CP factors and contract it with the explicit outer product of the modality inputs.

    Inputs: the token itself [z_t; 1] for its own slot μ, and for every other slot m the flattened
    sequence vec([Z_m, 1]) of its prompt tokens in capacity rows, plus one "absent" row holding the
    lone constant [0; 1] when the slot has no token (its token factor row is 1_L).
    W_μ[p, i_μ, (j_m, i_m)_{m≠μ}] = Σ_k Σ_l c_μ[k,l] B_μ[k,i_μ,p] Π_{m≠μ} Ã_m[j_m,k,l] B_m[k,i_m,p].
    """
    names = layer.adapter_names
    R, L, r = layer.cp_rank, layer.token_rank, layer.width
    out = torch.zeros(x.shape[0], x.shape[1], layer.out_features, dtype=torch.float64)
    for b in range(x.shape[0]):
        slot_of = [0 if int(i) < 2 else int(i) - 1 for i in mod[b]]
        z1 = [
            torch.cat([F.gelu(x[b, t] @ layer.down_weight[names[s]].t() + layer.down_bias[names[s]]), torch.ones(1)])
            for t, s in enumerate(slot_of)
        ]
        seqs = []
        for m, _name in enumerate(names):
            cap = layer.capacity[m]
            rows = torch.zeros(cap + 1, r + 1)
            members = [t for t in range(x.shape[1]) if int(mod[b, t]) >= 1 and slot_of[t] == m]
            for j, t in enumerate(members):
                rows[j] = z1[t]
            if not members:
                rows[cap, r] = 1.0  # absent slot: the constant term alone
            seqs.append(rows.reshape(-1).double())
        for t, mu in enumerate(slot_of):
            inputs = [z1[t].double()] + [seqs[m] for m in range(len(names)) if m != mu]
            X = functools.reduce(lambda a, v: torch.outer(a.reshape(-1), v), inputs).reshape(-1)  # ⊗ of inputs
            W = torch.zeros(layer.width, X.numel(), dtype=torch.float64)
            for k in range(R):
                for j in range(L):
                    for p in range(layer.width):
                        vecs = [layer.feature_factor[names[mu]][k, :, p]]
                        for m in range(len(names)):
                            if m != mu:
                                a = torch.cat([layer.token_factor[names[m]][:, k, j], torch.ones(1)])  # Ã_m
                                vecs.append(torch.outer(a, layer.feature_factor[names[m]][k, :, p]).reshape(-1))
                        rank_one = functools.reduce(lambda u, v: torch.outer(u.reshape(-1), v), vecs).reshape(-1)
                        W[p] += layer.slot_weight[names[mu]][k, j].double() * rank_one.double()
            out[b, t] = layer.up.double() @ (W @ X)
    return out


@pytest.mark.parametrize("num_media", [1, 2, 3])
def test_cp_fusion_equals_explicit_outer_product_fusion(num_media):
    layer = small_layer(num_media, max_tokens=4)
    mod = torch.zeros(2, 9, dtype=torch.long)
    mod[:, 1:3] = 2
    mod[0, 3] = 2
    if num_media > 1:
        mod[0, 4:6] = 3  # row 1 has no m1 tokens: the absent-slot constant
    if num_media > 2:
        mod[:, 6] = 4
    mod[0, 7] = 1  # query text in row 0 only; row 1's text slot is absent
    x = torch.randn(2, 9, 6)
    with torch.no_grad():
        ours = layer.delta(x, layer.slot.set(mod))
        oracle = explicit_delta(layer, x, mod)
    assert torch.allclose(ours.double(), oracle, rtol=1e-4, atol=1e-5), (ours.double() - oracle).abs().max()
