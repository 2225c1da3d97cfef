"""Vectorised MokA == the official per-sample semantics (moka_train.testing.reference_moka), on awkward batches."""

import pytest
import torch

from moka_train.adapters import AdapterSpec, RoutingSlot
from moka_train.adapters.methods.moka import MokaLinear
from moka_train.testing.reference_moka import reference_moka_delta

D_IN, D_OUT, RANK = 24, 20, 4


def make_layer(num_modalities: int, temperature="paper", method_cls=MokaLinear, weight=0.7):
    names = tuple(f"m{i}" for i in range(num_modalities))
    spec = AdapterSpec(
        method="moka", rank=RANK, alpha=8.0, dropout=0.0, modalities=names, xattn_weight=weight, temperature=temperature
    )
    slot = RoutingSlot(num_modalities)
    torch.manual_seed(0)
    layer = method_cls(torch.nn.Linear(D_IN, D_OUT), spec, slot)
    torch.nn.init.normal_(layer.lora_B)  # B = 0 at init would hide every mistake
    return layer, slot


def awkward_ids(num_modalities: int) -> torch.Tensor:
    """Rows: media + a short question; media + a long question; text only; media without
    query text (the official code crashes there); right padding everywhere but row 0."""
    T = 30
    ids = torch.zeros(5, T, dtype=torch.long)
    media = [2 + m for m in range(num_modalities)]
    for m, mid in enumerate(media):
        ids[0, 1 + 3 * m : 4 + 3 * m] = mid
        ids[1, 2 + 2 * m : 4 + 2 * m] = mid
        ids[3, 1 + 4 * m : 3 + 4 * m] = mid
        ids[4, 2 + 2 * m : 5 + 2 * m] = mid
    ids[0, 20:22] = 1  # 2 query tokens
    ids[1, 16:27] = 1  # 11 query tokens
    ids[2, 5:9] = 1  # text only, with a question
    ids[4, 18:24] = 1
    ids[1, 28:] = -1
    ids[2, 20:] = -1
    ids[3, 25:] = -1
    ids[4, 27:] = -1
    return ids


@pytest.mark.parametrize("num_modalities", [1, 2, 4])
@pytest.mark.parametrize("temperature", ["paper", "official", "num_query"])
def test_matches_reference(num_modalities, temperature):
    layer, slot = make_layer(num_modalities, temperature)
    ids = awkward_ids(num_modalities)
    x = torch.randn(ids.shape[0], ids.shape[1], D_IN)
    slot.set(ids)
    ours = layer.delta(x, slot.read(x))
    A_list = [layer.lora_A[n] for n in ("text",) + layer.spec.modalities]
    ref = reference_moka_delta(x, ids, A_list, layer.lora_B, layer.scale, 0.7, temperature)
    tol = 1e-5 * ref.abs().max()
    assert (ours - ref).abs().max() <= tol
    assert torch.isfinite(ours).all()


def test_cross_attention_changes_media_tokens_only_when_query_present():
    layer, slot = make_layer(2)
    ids = awkward_ids(2)
    x = torch.randn(ids.shape[0], ids.shape[1], D_IN)
    slot.set(ids)
    with_xattn = layer.delta(x, slot.read(x))
    layer.cross_attention = False
    without = layer.delta(x, slot.read(x))
    changed = (with_xattn - without).abs().amax(-1) > 1e-6  # [B, T]
    assert torch.equal(changed, (ids >= 2) & torch.tensor([1, 1, 1, 0, 1], dtype=torch.bool)[:, None])


def test_no_xattn_method_matches_reference_without_attention():
    from moka_train.adapters.methods.moka import MokaNoCrossAttentionLinear

    layer, slot = make_layer(2, method_cls=MokaNoCrossAttentionLinear)
    ids = awkward_ids(2)
    x = torch.randn(ids.shape[0], ids.shape[1], D_IN)
    slot.set(ids)
    ref = reference_moka_delta(
        x,
        ids,
        [layer.lora_A[n] for n in ("text",) + layer.spec.modalities],
        layer.lora_B,
        layer.scale,
        0.7,
        xattn=False,
    )
    assert (layer.delta(x, slot.read(x)) - ref).abs().max() <= 1e-5 * ref.abs().max()


def test_stale_routing_fails_loudly():
    layer, slot = make_layer(2)
    slot.set(awkward_ids(2))
    with pytest.raises(RuntimeError, match="stale routing"):
        layer(torch.randn(5, 29, D_IN))


def test_routing_rejects_ids_beyond_the_adapted_modalities():
    with pytest.raises(ValueError, match="only 1 non-text"):
        RoutingSlot(1).set(torch.tensor([[0, 2, 3]]))
