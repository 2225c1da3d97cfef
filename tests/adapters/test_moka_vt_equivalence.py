"""`adapter.temperature: paper` computes what the official visual-text layer computes.

The VT code (VisualText/modified_peft/tuners/lora/layer.py, Linear.forward) keeps the A outputs
unscaled, u = A x, attends with softmax(u_t·u_j / √r), adds w·attention, then applies B and the
scaling s = alpha/r. Our kernel works on a = s·u: s·B(u_t + w Σ softmax(u_t·u_j/√r) u_j)
= B(a_t + w Σ softmax(a_t·a_j / (s²√r)) a_j), which is the `paper` factor 1/(s²√r). These tests
check it against moka_train.testing.reference_moka_vt, written from the VT formulas.
"""

import pytest
import torch

from moka_train.adapters import AdapterSpec, RoutingSlot
from moka_train.adapters.methods.moka import MokaLinear
from moka_train.testing.reference_moka_vt import reference_vt_delta

D_IN, D_OUT, RANK, ALPHA = 24, 20, 4, 16.0  # the VT recipe's r = 4, lora_alpha = 16: s = 4


class FixedDropout(torch.nn.Module):
    """Inverted dropout with a given keep mask, so ours and the reference drop the same entries."""

    def __init__(self, keep: torch.Tensor, p: float) -> None:
        super().__init__()
        self.keep, self.p = keep, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.keep / (1.0 - self.p)


def vt_layer(temperature: str, weight: float):
    spec = AdapterSpec(
        method="moka", rank=RANK, alpha=ALPHA, dropout=0.0, modalities=("image",), xattn_weight=weight,
        temperature=temperature,
    )  # fmt: skip
    slot = RoutingSlot(1)
    torch.manual_seed(0)
    layer = MokaLinear(torch.nn.Linear(D_IN, D_OUT), spec, slot)
    torch.nn.init.normal_(layer.lora_B)  # B = 0 at init would hide every mistake
    return layer, slot


def vt_batch():
    """Modality ids (0 text, 1 question keys, 2 image, -1 padding): image + question, image + a
    long question with padding, text only, image without question (no attention there)."""
    ids = torch.zeros(4, 26, dtype=torch.long)
    ids[0, 2:10], ids[0, 12:15] = 2, 1
    ids[1, 1:9], ids[1, 10:21], ids[1, 23:] = 2, 1, -1
    ids[2, 4:9] = 1
    ids[3, 3:11], ids[3, 20:] = 2, -1
    return ids


def vt_reference(layer, ids, x, keep=None, p=0.0):
    return reference_vt_delta(
        x, ids == 2, ids == 1, layer.lora_A["text"], layer.lora_A["image"], layer.lora_B, ALPHA / RANK,
        layer.spec.xattn_weight, keep, p,
    )  # fmt: skip


def layer_delta(layer, slot, ids, x):
    """The adapter's contribution through the layer's own forward (dropout where the layer puts it)."""
    slot.set(ids)
    return layer(x) - layer.base_layer(x)


@pytest.mark.parametrize("weight", [0.05, 1.0])
def test_paper_temperature_is_the_vt_code(weight):
    layer, slot = vt_layer("paper", weight)
    ids = vt_batch()
    x = torch.randn(ids.shape[0], ids.shape[1], D_IN) * 3  # large enough that the softmax is not flat
    ref = vt_reference(layer, ids, x)
    ours = layer_delta(layer, slot, ids, x)
    assert (ours - ref).abs().max() <= 1e-5 * ref.abs().max()


def test_dropout_enters_before_each_a_only():
    """The VT code drops out the input of each A (lora_dropout), nothing after it."""
    layer, slot = vt_layer("paper", 1.0)
    ids = vt_batch()
    x = torch.randn(ids.shape[0], ids.shape[1], D_IN) * 3
    p = 0.3
    keep = (torch.rand(x.shape, generator=torch.Generator().manual_seed(5)) > p).float()
    layer.dropout = FixedDropout(keep, p)
    ref = vt_reference(layer, ids, x, keep, p)
    assert (layer_delta(layer, slot, ids, x) - ref).abs().max() <= 1e-5 * ref.abs().max()
    assert (ref - vt_reference(layer, ids, x)).abs().max() > 1e-2 * ref.abs().max()  # the mask mattered


def test_official_temperature_is_not_the_vt_code():
    """The audio-visual `official` mode (√r on the scaled vectors) gives a different image delta,
    so the equivalence above is a real check: the logits are s² = 16 times larger."""
    layer, slot = vt_layer("official", 1.0)
    ids = vt_batch()
    x = torch.randn(ids.shape[0], ids.shape[1], D_IN) * 3
    ref = vt_reference(layer, ids, x)
    gap = (layer_delta(layer, slot, ids, x) - ref).abs().amax(-1)  # [B, T]
    assert gap[ids == 2].max() > 1e-2 * ref.abs().max()
    assert gap[ids != 2].max() <= 1e-5 * ref.abs().max()  # text and padding tokens agree either way
