"""The contract battery: every method of the paper's comparison (DESIGN §3 table) on tiny
LLaMA / Qwen2 models with 2 and 3 non-text modalities, each check in the settings that vary
what the method's layer reads (``Row.reads``). A new method gets the whole contract by adding one
row to ROWS (and its parameter formula to PER_LAYER)."""

from dataclasses import dataclass, field
from itertools import product

import pytest
import torch
from helpers import VOCAB, adapted, assert_loads_back, assert_merge_is_exact, cached_and_recomputed_greedy

from moka_train.adapters import (
    AdapterSpec,
    RoutingSlot,
    adapter_modules,
    adapter_state_dict,
    apply_adapters,
    available_methods,
    count_adapter_parameters,
    merge_text_path,
)
from moka_train.testing.llm import make_tiny_llm
from moka_train.utils.hf import enable_activation_checkpointing

# What a row's layer reads besides its input x decides the settings its checks run under:
# W0: the frozen weight and its bias (Qwen2's q/k/v carry a bias, LLaMA's do not): both families;
# COUNT: the number of modalities (its experts or its routing follow it): 2 and 3 modalities.
# A layer that reads neither runs the same code on every family and modality count: one setting.
W0, COUNT = "W0", "modality count"


@dataclass(frozen=True)
class Row:
    """One configuration under contract: a method, extra AdapterSpec kwargs, what it reads."""

    method: str
    kw: dict = field(default_factory=dict)
    reads: tuple[str, ...] = ()
    mergeable: bool = True  # its text path folds exactly into W0

    @property
    def id(self) -> str:
        return self.method + "".join(f"-{k}={v}" for k, v in self.kw.items())


ROWS = [
    Row("lora"),
    Row("dora", reads=(W0,)),  # m starts at ||W0||_row and rescales W0 x (not the bias)
    Row("multi_lora", reads=(COUNT,)),  # one expert per modality
    Row("lora_moe", reads=(COUNT,), mergeable=False),
    Row("lora_moe", {"num_experts": 5}, mergeable=False),  # five experts whatever the modalities
    Row("hydra_lora", reads=(COUNT,), mergeable=False),
    Row("unimodal_lora", reads=(COUNT,)),
    Row("uni_mm_lora", reads=(COUNT,)),
    Row("uni_mm_lora_gate", reads=(COUNT,), mergeable=False),
    Row("moka", reads=(COUNT,)),
    Row("moka_no_xattn", reads=(COUNT,)),
    Row("moka_text_query", reads=(COUNT,)),  # merge: exact without media (its decode attends the media)
    Row("moka_text_query", {"temperature": "num_query"}, reads=(COUNT,)),
    Row("moka_naive", reads=(COUNT,)),
    Row("moka_proj", reads=(COUNT,)),
    Row("moka_av", reads=(COUNT,)),  # a third modality is neither its query nor its key
    Row("moka_av", {"options": {"av_query": "audio"}}, reads=(COUNT,)),
]
BY_ROW = [pytest.param(row, id=row.id) for row in ROWS]


def settings(reads: tuple[str, ...]) -> list[tuple[str, int]]:
    """(family, number of modalities) pairs that vary every axis the layer reads: the full
    crossing when it reads both, both values paired when it reads one (the other varies for
    free), one setting when it reads neither."""
    families, counts = ("llama", "qwen2"), (2, 3)
    if W0 in reads and COUNT in reads:
        return list(product(families, counts))
    return list(zip(families, counts)) if reads else [(families[0], counts[0])]


BY_SETTING = [
    pytest.param(row, family, k, id=f"{row.id}-{family}-{k}") for row in ROWS for family, k in settings(row.reads)
]
MODALITIES = {2: ("video", "audio"), 3: ("video", "audio", "speech")}


def zoo_batch(num_modalities, batch=3, seed=0):
    """[text][4 tokens per modality][query x5][answer x6]; row 1 has a 2-token question, the
    last row is right-padded. Returns ids, modality_ids, attention mask, answer start."""
    gen = torch.Generator().manual_seed(seed)
    answer = 1 + 4 * num_modalities + 5
    tokens = answer + 6
    ids = torch.randint(5, VOCAB, (batch, tokens), generator=gen)
    mod = torch.zeros(batch, tokens, dtype=torch.long)
    for m in range(num_modalities):
        mod[:, 1 + 4 * m : 5 + 4 * m] = 2 + m
    mod[:, answer - 5 : answer] = 1
    mod[1, answer - 3 : answer] = 0
    attention = torch.ones(batch, tokens, dtype=torch.long)
    attention[-1, -3:] = 0
    mod[-1, -3:] = -1
    return ids, mod, attention, answer


def zoo_model(row, family="llama", k=2, seed=0, randomize_b=True):
    return adapted(family, row.method, modalities=MODALITIES[k], seed=seed, randomize_b=randomize_b, **row.kw)


def test_every_method_of_the_comparison_is_registered_and_under_contract():
    paper = {
        "lora",
        "dora",
        "multi_lora",
        "lora_moe",
        "hydra_lora",
        "unimodal_lora",
        "uni_mm_lora",
        "uni_mm_lora_gate",
        "moka",
        "moka_no_xattn",
        "moka_text_query",
        "moka_naive",
        "moka_proj",
        "moka_av",
    }
    assert paper <= set(available_methods())
    assert {row.method for row in ROWS} == paper


def test_every_axis_a_row_reads_takes_both_values():
    assert len(settings((W0, COUNT))) == 4
    for row in ROWS:
        families, counts = map(set, zip(*settings(row.reads)))
        assert W0 not in row.reads or families == {"llama", "qwen2"}, row
        assert COUNT not in row.reads or counts == {2, 3}, row


@pytest.mark.parametrize("row,family,k", BY_SETTING)
def test_identity_at_init(row, family, k):
    # every method here defines ΔW = 0 at init (zero B's / DoRA's m = ||W0||), so logits are equal bit for bit
    base = make_tiny_llm(family, seed=3, vocab_size=VOCAB)
    model, slot, _ = zoo_model(row, family, k, seed=3, randomize_b=False)
    ids, mod, att, _ = zoo_batch(k)
    slot.set(mod)
    with torch.no_grad():
        ours, theirs = model(input_ids=ids, attention_mask=att).logits, base(input_ids=ids, attention_mask=att).logits
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("row,family,k", BY_SETTING)
def test_no_label_leak(row, family, k):
    model, slot, _ = zoo_model(row, family, k)
    ids, mod, att, answer = zoo_batch(k)
    other = ids.clone()
    other[:, answer:] = torch.randint(5, VOCAB, other[:, answer:].shape, generator=torch.Generator().manual_seed(9))
    slot.set(mod)
    with torch.no_grad():
        h1 = model(input_ids=ids, attention_mask=att, output_hidden_states=True).hidden_states
        h2 = model(input_ids=other, attention_mask=att, output_hidden_states=True).hidden_states
    for a, b in zip(h1, h2):
        assert torch.equal(a[:, :answer], b[:, :answer])  # prompt, media and question positions
    assert not torch.equal(h1[-1][:, answer:], h2[-1][:, answer:])


def _grads(model, slot, k, checkpointing):
    ids, mod, att, _ = zoo_batch(k)
    model.zero_grad()
    model.train()
    if checkpointing:
        enable_activation_checkpointing(model)
    slot.set(mod)
    model(input_ids=ids, attention_mask=att, labels=ids.masked_fill(att == 0, -100)).loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("row,family,k", BY_SETTING)
def test_gradients_reach_only_and_all_adapter_parameters(row, family, k):
    model, slot, _ = zoo_model(row, family, k)
    grads = _grads(model, slot, k, checkpointing=False)
    assert set(grads) == set(adapter_state_dict(model))
    assert {n for n, p in model.named_parameters() if p.requires_grad} == set(grads)
    dead = [n for n, g in grads.items() if not g.abs().sum() > 0]
    assert not dead, dead


@pytest.mark.parametrize("row", BY_ROW)
def test_gradient_checkpointing_gives_identical_gradients(row):
    model, slot, _ = zoo_model(row)
    plain = _grads(model, slot, 2, checkpointing=False)
    checked = _grads(model, slot, 2, checkpointing=True)
    assert plain.keys() == checked.keys() and plain
    for name in plain:
        assert torch.allclose(plain[name], checked[name], rtol=1e-5, atol=1e-7), name


@pytest.mark.parametrize("row,family,k", BY_SETTING)
def test_cached_greedy_decoding_equals_full_recompute(row, family, k):
    model, slot, _ = zoo_model(row, family, k)
    ids, mod, _, answer = zoo_batch(k, batch=2, seed=4)
    ids, mod = ids[:, : answer + 2], mod[:, : answer + 2]  # prompt plus two answer tokens
    cached, recomputed = cached_and_recomputed_greedy(model, slot, ids, mod)
    assert torch.equal(cached, recomputed)


def test_text_query_beam_search_and_decoding_before_prefill():
    model, slot, _ = zoo_model(Row("moka_text_query"))
    ids, mod, _, answer = zoo_batch(2, batch=2, seed=4)
    slot.set(mod[:, :answer])
    slot.expand_batch(2)  # HF generate repeats every row num_beams times in place
    with torch.no_grad():
        out = model.generate(
            input_ids=ids[:, :answer], max_new_tokens=3, num_beams=2, do_sample=False, pad_token_id=0, eos_token_id=None
        )
    assert out.shape == (2, answer + 3)
    layer = model.get_submodule("model.layers.0.self_attn.q_proj")
    slot.set(mod[:, :answer])  # a new routing drops what the last prefill kept for decoding
    slot.decoding = True
    with pytest.raises(RuntimeError, match="decoding before any prefill"):
        layer(torch.randn(2, 1, layer.in_features))


@pytest.mark.parametrize("row", BY_ROW)
def test_save_load_round_trip(tmp_path, row):
    saved = zoo_model(row, "qwen2", 3, seed=1)
    for p in adapter_state_dict(saved[0]).values():  # move every parameter off its init (projections, m, routers)
        p.data.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    fresh = zoo_model(row, "qwen2", 3, seed=1, randomize_b=False)
    assert_loads_back(saved, fresh, zoo_batch(3)[:3], tmp_path)


@pytest.mark.parametrize("row", BY_ROW)
def test_merge_is_exact_on_text_only_input_or_refused(row):
    model, slot, _ = zoo_model(row)
    ids, _, att, _ = zoo_batch(2)
    mod = torch.zeros_like(ids)
    mod[:, 3:8] = 1  # a question, no media
    mod[-1, -3:] = -1
    slot.set(mod)
    if not row.mergeable:
        with pytest.raises(NotImplementedError, match="cannot be merged"):
            merge_text_path(model)
        return
    assert_merge_is_exact(model, ids, att)


# Trainable parameters of one adapted Linear (d in, o out), r rank, M = 1 + K slots, N experts
# (spec.experts, = M by default). Summed over the 7 targets of 32 LLaMA-2-7B layers below.
PER_LAYER = {
    "lora": lambda d, o, r, M, N: r * (d + o),
    "dora": lambda d, o, r, M, N: r * (d + o) + o,  # + magnitude m [o]
    "multi_lora": lambda d, o, r, M, N: N * r * (d + o),
    "lora_moe": lambda d, o, r, M, N: N * r * (d + o) + N * d,  # + router [N, d]
    "hydra_lora": lambda d, o, r, M, N: r * d + N * r * o + N * d,  # shared A, N B heads, router
    "unimodal_lora": lambda d, o, r, M, N: M * r * (d + o),
    "uni_mm_lora": lambda d, o, r, M, N: (M + 1) * r * d + 2 * r * o,
    "uni_mm_lora_gate": lambda d, o, r, M, N: (M + 1) * r * d + 2 * r * o + d,  # + gate [1, d]
    "moka": lambda d, o, r, M, N: M * r * d + r * o,
    "moka_no_xattn": lambda d, o, r, M, N: M * r * d + r * o,
    "moka_text_query": lambda d, o, r, M, N: M * r * d + r * o,
    "moka_naive": lambda d, o, r, M, N: M * r * d + r * o,
    "moka_proj": lambda d, o, r, M, N: M * r * d + r * o + 3 * r * r,  # + W_q, W_k, W_v [r, r]
    "moka_av": lambda d, o, r, M, N: M * r * d + r * o,
}
# the same numbers written out (r=4, video+audio: M=N=3), so a formula slip shows too
LLAMA2_7B = {
    "lora": 9_994_240,
    "dora": 11_354_112,
    "multi_lora": 29_982_720,
    "lora_moe": 33_398_784,
    "hydra_lora": 24_289_280,
    "unimodal_lora": 29_982_720,
    "uni_mm_lora": 29_097_984,
    "uni_mm_lora_gate": 30_236_672,
    "moka": 19_103_744,
    "moka_no_xattn": 19_103_744,
    "moka_text_query": 19_103_744,
    "moka_naive": 19_103_744,
    "moka_proj": 19_114_496,
    "moka_av": 19_103_744,
}
SHAPES_7B = [(4096, 4096)] * 4 + [(4096, 11008)] * 2 + [(11008, 4096)]  # q k v o, gate up, down


@pytest.mark.parametrize("method", sorted(PER_LAYER))
def test_trainable_parameter_count_llama2_7b_shapes(method):
    from transformers import AutoModelForCausalLM, LlamaConfig

    # LLaMA-2-7B's widths; its 32 layers are alike, so two of them (a count that differs between
    # layers still shows) scaled by 16 give the whole model's count, at a sixteenth of the cost
    config = LlamaConfig(
        hidden_size=4096, intermediate_size=11008, num_hidden_layers=2, num_attention_heads=32, vocab_size=32000
    )
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    replaced = apply_adapters(model, AdapterSpec(method=method, rank=4, modalities=("video", "audio")), RoutingSlot(2))
    assert len(replaced) == 7 * 2
    formula = 32 * sum(PER_LAYER[method](d, o, 4, 3, 3) for d, o in SHAPES_7B)
    assert formula == LLAMA2_7B[method]
    assert 16 * count_adapter_parameters(model) == formula
    assert 16 * sum(p.numel() for p in model.parameters() if p.requires_grad) == formula


# DESIGN §3's table: (#A, #B) with N = number of modalities, text included
STRUCTURE = {
    "lora": (1, 1),
    "dora": (1, 1),
    "multi_lora": ("N", "N"),
    "lora_moe": ("N", "N"),
    "hydra_lora": (1, "N"),
    "unimodal_lora": ("N", "N"),
    "uni_mm_lora": ("N+1", 2),
    "uni_mm_lora_gate": ("N+1", 2),
    "moka": ("N", 1),
    "moka_no_xattn": ("N", 1),
    "moka_text_query": ("N", 1),
    "moka_naive": ("N", 1),
    "moka_proj": ("N", 1),
    "moka_av": ("N", 1),
}


# a method with an N in its row has one more A or B per modality: 1 to 3 modalities; the others
# build the same matrices whatever the modalities
STRUCTURE_CASES = [(m, k) for m, ab in sorted(STRUCTURE.items()) for k in ((1, 2, 3) if "N" in str(ab) else (2,))]


@pytest.mark.parametrize("method,k", STRUCTURE_CASES)
def test_number_of_A_and_B_matrices_matches_the_paper_table(method, k):
    d, o, r = 12, 10, 5  # r above any expert count, so a router [N, d] is never mistaken for an A
    names = tuple(f"m{i}" for i in range(k))
    model = torch.nn.Sequential(torch.nn.Linear(d, o))
    spec = AdapterSpec(method=method, rank=r, modalities=names, targets=("0",))
    if method == "moka_av" and k < 2:
        with pytest.raises(ValueError, match="two different non-text modalities"):
            apply_adapters(model, spec, RoutingSlot(k))
        return
    apply_adapters(model, spec, RoutingSlot(k))
    (layer,) = adapter_modules(model).values()
    shapes = [tuple(p.shape) for _, p in layer.adapter_named_parameters()]
    n = k + 1
    want = tuple({"N": n, "N+1": n + 1}.get(c, c) for c in STRUCTURE[method])
    assert (shapes.count((r, d)), shapes.count((o, r))) == want


@pytest.mark.parametrize("method", ["unimodal_lora", "uni_mm_lora"])
def test_one_expert_per_modality_methods_refuse_another_expert_count(method):
    with pytest.raises(ValueError, match="one expert per modality"):
        apply_adapters(
            torch.nn.Sequential(torch.nn.Linear(8, 8)),
            AdapterSpec(method=method, modalities=("video",), num_experts=5, targets=("0",)),
            RoutingSlot(1),
        )
