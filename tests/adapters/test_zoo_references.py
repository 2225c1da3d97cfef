"""Each method against a hand-written reference of its defining equation on one small layer,
token by token and sample by sample (slow on purpose), on batches with padding, rows without
media and rows without query text."""

import math

import pytest
import torch
import torch.nn.functional as F

from moka_train.adapters import AdapterSpec, RoutingSlot, get_method
from moka_train.testing.reference_moka import reference_moka_delta

D_IN, D_OUT, RANK, ALPHA, LAM = 10, 7, 3, 6.0, 0.7
NAMES = ("video", "audio")
SLOTS = ("text",) + NAMES


def make(method, temperature="official", **kw):
    spec = AdapterSpec(
        method=method,
        rank=RANK,
        alpha=ALPHA,
        dropout=0.0,
        modalities=NAMES,
        xattn_weight=LAM,
        temperature=temperature,
        **kw,
    )
    slot = RoutingSlot(len(NAMES))
    torch.manual_seed(0)
    layer = get_method(method)(torch.nn.Linear(D_IN, D_OUT), spec, slot)
    with torch.no_grad():  # every parameter random: zero B's or identity projections would hide mistakes
        for _, p in layer.adapter_named_parameters():
            p.copy_(torch.randn(p.shape) * 0.5)
    return layer, slot


def ids_and_x(seed=0):
    """Rows: text|video|audio|question|answer; shorter media, long question, padded; text only;
    media without a question; audio only (no video)."""
    ids = torch.tensor(
        [
            [0, 2, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0],
            [0, 0, 2, 3, 3, 3, 1, 1, 1, 1, 0, -1],
            [0, 1, 1, 0, 0, 0, 0, 0, 0, -1, -1, -1],
            [0, 2, 2, 3, 0, 0, 0, 0, 0, 0, 0, -1],
            [0, 3, 3, 3, 1, 1, 1, 0, 0, 0, -1, -1],
        ]
    )
    x = torch.randn(ids.shape[0], ids.shape[1], D_IN, generator=torch.Generator().manual_seed(seed))
    return ids, x


def run(layer, slot, ids, x):
    slot.set(ids)
    return layer.delta(x, slot.read(x))


def slot_of(token_id):
    return max(int(token_id) - 1, 0)  # 0 text/query/pad, i for the i-th non-text modality


def per_slot_a(layer, ids, x):
    """a_t = s·A_{m(t)} x_t, token by token."""
    a = torch.zeros(*ids.shape, RANK)
    for b in range(ids.shape[0]):
        for t in range(ids.shape[1]):
            a[b, t] = layer.scale * layer.lora_A[SLOTS[slot_of(ids[b, t])]] @ x[b, t]
    return a


def assert_close(ours, ref):
    assert (ours - ref).abs().max() <= 1e-5 * ref.abs().max() + 1e-6


def test_dora_equals_magnitude_times_normalised_adapted_weight():
    layer, slot = make("dora")
    ids, x = ids_and_x()
    slot.set(ids)
    W = layer.base_layer.weight + layer.scale * layer.lora_B @ layer.lora_A  # [o, d]
    col = torch.stack([W[i].pow(2).sum().sqrt() for i in range(D_OUT)])  # norm over inputs, per output
    ref = F.linear(x, layer.magnitude[:, None] * W / col[:, None], layer.base_layer.bias)
    assert_close(layer(x), ref)
    merged = layer.base_layer.weight + layer.text_delta_weight()
    assert_close(merged, layer.magnitude[:, None] * W / col[:, None])


def test_multi_lora_sums_every_expert_for_every_token():
    layer, slot = make("multi_lora", num_experts=4)
    ids, x = ids_and_x()
    ref = sum(layer.scale * x @ layer.lora_A[f"e{i}"].t() @ layer.lora_B[f"e{i}"].t() for i in range(4))
    assert_close(run(layer, slot, ids, x), ref)
    assert_close(
        layer.text_delta_weight(), sum(layer.scale * layer.lora_B[f"e{i}"] @ layer.lora_A[f"e{i}"] for i in range(4))
    )


def lora_moe_token(layer, x, gates):
    """s Σ_i g_i B_i A_i x: every expert its own A and B."""
    return sum(g * layer.scale * layer.lora_B[f"e{i}"] @ (layer.lora_A[f"e{i}"] @ x) for i, g in enumerate(gates))


def hydra_lora_token(layer, x, gates):
    """Σ_i g_i B_i (s A x): one shared A, a B per head."""
    a = layer.scale * layer.lora_A @ x
    return sum(g * layer.lora_B[f"e{i}"] @ a for i, g in enumerate(gates))


@pytest.mark.parametrize("experts", [3, 12])  # 12: "e10" sorts before "e2"; router row i must stay expert i
@pytest.mark.parametrize("method,token", [("lora_moe", lora_moe_token), ("hydra_lora", hydra_lora_token)])
def test_routed_methods_mix_by_router_softmax_and_refuse_to_merge(method, token, experts):
    layer, slot = make(method, num_experts=experts)
    ids, x = ids_and_x()
    ref = torch.zeros(*ids.shape, D_OUT)
    for b in range(ids.shape[0]):
        for t in range(ids.shape[1]):
            ref[b, t] = token(layer, x[b, t], torch.softmax(layer.router @ x[b, t], dim=0))
    assert_close(run(layer, slot, ids, x), ref)
    with pytest.raises(NotImplementedError, match="per-token router"):
        layer.text_delta_weight()


def test_unimodal_lora_is_per_modality_lora_on_masked_tokens():
    layer, slot = make("unimodal_lora")
    ids, x = ids_and_x()
    ref = torch.zeros(*ids.shape, D_OUT)
    for m, name in enumerate(SLOTS):
        mask = torch.tensor([[slot_of(i) == m for i in row] for row in ids])  # [B, T]
        ref[mask] = layer.scale * x[mask] @ layer.lora_A[name].t() @ layer.lora_B[name].t()
    assert_close(run(layer, slot, ids, x), ref)
    text_lora = layer.scale * x @ layer.lora_A["text"].t() @ layer.lora_B["text"].t()
    assert_close(layer.delta(x, None), text_lora)  # decoding: text LoRA only


@pytest.mark.parametrize("gated", [False, True])
def test_uni_mm_lora_adds_or_gates_the_shared_branch(gated):
    layer, slot = make("uni_mm_lora_gate" if gated else "uni_mm_lora")
    ids, x = ids_and_x()
    uni = per_slot_a(layer, ids, x) @ layer.lora_B.t()
    shared = layer.scale * x @ layer.shared_A.t() @ layer.shared_B.t()
    if gated:
        g = torch.sigmoid(x @ layer.gate[0])[..., None]  # [B, T, 1]
        ref = g * uni + (1 - g) * shared
    else:
        ref = uni + shared
    assert_close(run(layer, slot, ids, x), ref)


def _mokalike_reference(layer, ids, x, mix):
    """a = per-slot a; for every non-text token, a'_t = a_t + mix(b, t, a); then B."""
    a = per_slot_a(layer, ids, x)
    out = a.clone()
    for b in range(ids.shape[0]):
        for t in range(ids.shape[1]):
            if ids[b, t] >= 2:
                out[b, t] = a[b, t] + mix(b, t, a)
    return out @ layer.lora_B.t()


def test_moka_naive_adds_the_mean_of_the_question():
    layer, slot = make("moka_naive")
    ids, x = ids_and_x()

    def mix(b, t, a):
        keys = a[b][ids[b] == 1]
        return LAM * keys.mean(0) if len(keys) else torch.zeros(RANK)

    assert_close(run(layer, slot, ids, x), _mokalike_reference(layer, ids, x, mix))


@pytest.mark.parametrize("temperature", ["paper", "official", "num_query"])
def test_moka_proj_uses_learned_rank_space_projections(temperature):
    layer, slot = make("moka_proj", temperature)
    ids, x = ids_and_x()
    Wq, Wk, Wv = (layer.xattn_proj[n] for n in "qkv")

    def mix(b, t, a):
        keys = a[b][ids[b] == 1]
        if not len(keys):
            return torch.zeros(RANK)
        tau = {
            "paper": layer.scale**2 * math.sqrt(RANK),
            "official": math.sqrt(RANK),
            "num_query": math.sqrt(len(keys)),
        }[temperature]
        w = torch.softmax((Wq @ a[b, t]) @ (keys @ Wk.t()).t() / tau, dim=0)
        return LAM * w @ (keys @ Wv.t())

    assert_close(run(layer, slot, ids, x), _mokalike_reference(layer, ids, x, mix))


def test_moka_proj_with_identity_projections_is_moka():
    layer, slot = make("moka_proj", "paper")
    with torch.no_grad():
        for n in "qkv":
            layer.xattn_proj[n].copy_(torch.eye(RANK))
    ids, x = ids_and_x()
    ref = reference_moka_delta(x, ids, [layer.lora_A[n] for n in SLOTS], layer.lora_B, layer.scale, LAM, "paper")
    assert_close(run(layer, slot, ids, x), ref)
    fresh = get_method("moka_proj")(torch.nn.Linear(D_IN, D_OUT), layer.spec, slot)
    assert all(torch.equal(fresh.xattn_proj[n], torch.eye(RANK)) for n in "qkv")  # identity at init


@pytest.mark.parametrize("query", ["video", "audio"])
def test_moka_av_adds_attention_from_one_medium_to_the_other(query):
    layer, slot = make("moka_av", options={"av_query": query, "av_weight": 0.4})
    key = "audio" if query == "video" else "video"
    q_id, k_id = 2 + NAMES.index(query), 2 + NAMES.index(key)
    ids, x = ids_and_x()
    moka = reference_moka_delta(x, ids, [layer.lora_A[n] for n in SLOTS], layer.lora_B, layer.scale, LAM, "official")
    a = per_slot_a(layer, ids, x)
    extra = torch.zeros(*ids.shape, RANK)
    for b in range(ids.shape[0]):
        keys = a[b][ids[b] == k_id]
        for t in range(ids.shape[1]):
            if ids[b, t] == q_id and len(keys):
                extra[b, t] = 0.4 * torch.softmax(keys @ a[b, t] / math.sqrt(RANK), dim=0) @ keys
    assert_close(run(layer, slot, ids, x), moka + extra @ layer.lora_B.t())


def _text_query_reference(layer, ids, x, temperature):
    """Every text token attends the media at earlier positions of its row; media unchanged."""
    a = per_slot_a(layer, ids, x)
    out = a.clone()
    for b in range(ids.shape[0]):
        media = (ids[b] >= 2).nonzero().flatten().tolist()
        for t in range(ids.shape[1]):
            earlier = [j for j in media if j < t]
            if ids[b, t] in (0, 1) and earlier:
                keys = a[b, earlier]
                tau = {
                    "paper": layer.scale**2 * math.sqrt(RANK),
                    "official": math.sqrt(RANK),
                    "num_query": math.sqrt(len(media)),
                }[temperature]
                out[b, t] = a[b, t] + LAM * torch.softmax(keys @ a[b, t] / tau, dim=0) @ keys
    return out @ layer.lora_B.t()


@pytest.mark.parametrize("temperature", ["paper", "official", "num_query"])
def test_moka_text_query_text_attends_earlier_media(temperature):
    layer, slot = make("moka_text_query", temperature)
    ids, x = ids_and_x()
    assert_close(run(layer, slot, ids, x), _text_query_reference(layer, ids, x, temperature))


@pytest.mark.parametrize("temperature", ["paper", "num_query"])
def test_moka_text_query_decode_step_reads_the_prefill_media_cache(temperature):
    layer, slot = make("moka_text_query", temperature)
    ids, x = ids_and_x()
    full = run(layer, slot, ids, x)  # the whole sequence at once
    run(layer, slot, ids[:, :8], x[:, :8])  # prefill of the first 8 tokens
    slot.decoding = True  # what the backbone's phase hook does once the KV cache holds tokens
    step = layer.delta(x[:, 8:10], slot.read(x[:, 8:10]))  # two more tokens, text-only routing
    text_rows = torch.tensor([0, 1, 3, 4])  # rows whose tokens 8 and 9 are text (row 2: padding)
    assert_close(step[text_rows], full[text_rows, 8:10])
    run(layer, slot, ids[:, :3], x[:, :3])  # a new prefill replaces the cache
    media, _ = slot.decode_state(layer, ids.shape[0])  # kept by the routing slot, not the layer
    assert media.shape[1] == 2
