"""Guards and forms that shape-only tests cannot see: batched beam search routes each beam by its
own row, folding refuses corrupt weights, and the LoRAMoE / HydraLoRA routers read the clean input
while every expert draws its own dropout mask (as the official implementations)."""

import pytest
import torch
from helpers import adapted, mixed_batch

from moka_train.adapters import AdapterSpec, RoutingSlot, adapter_modules, apply_adapters, fold_text_path
from moka_train.testing.llm import make_tiny_llm


def test_batched_beams_equal_per_row_beams():
    model, slot, _ = adapted("llama", "moka")
    ids, mod, _ = mixed_batch(batch=2, tokens=16, seed=4)
    mod[1, 1:7], mod[1, 7:11] = 3, 2  # row 1: audio where row 0 has video, so a wrong row shows
    # (2 beams: with 3, a tiled routing would still give each sample's first beam, the only one
    # prefill scores count, its own row by coincidence)

    def beams(rows_ids, rows_mod):
        slot.set(rows_mod)
        slot.expand_batch(2)  # max(num_beams, num_return_sequences) rows per sample, as HF generate
        with torch.no_grad():
            out = model.generate(
                input_ids=rows_ids,
                max_new_tokens=4,
                num_beams=2,
                num_return_sequences=2,
                do_sample=False,
                pad_token_id=0,
                eos_token_id=None,
                output_scores=True,
                return_dict_in_generate=True,
            )
        return out.sequences, out.sequences_scores

    together = beams(ids, mod)
    alone = [torch.cat(parts) for parts in zip(*(beams(ids[i : i + 1], mod[i : i + 1]) for i in range(2)))]
    assert torch.equal(together[0], alone[0])
    torch.testing.assert_close(together[1], alone[1], rtol=0, atol=1e-5)


def test_fold_refuses_non_finite_weights_and_folds_nothing():
    model, _, _ = adapted("llama", "moka")
    model.eval()
    layers = adapter_modules(model)
    name, layer = next(iter(layers.items()))
    before = {n: m.base_layer.weight.clone() for n, m in layers.items()}
    with torch.no_grad():
        layer.lora_B.view(-1)[0] = float("nan")
    with pytest.raises(ValueError, match=f"not finite.*{name}"):
        fold_text_path(model)
    assert all(torch.equal(m.base_layer.weight, before[n]) and not m.folded for n, m in layers.items())


@pytest.mark.parametrize("method", ["lora_moe", "hydra_lora"])
def test_router_reads_the_clean_input_and_each_expert_its_own_mask(method):
    model, slot = make_tiny_llm("llama", seed=0, vocab_size=64), RoutingSlot(2)
    apply_adapters(
        model, AdapterSpec(method=method, rank=4, alpha=16.0, dropout=0.5, modalities=("video", "audio")), slot
    )
    layer = next(iter(adapter_modules(model).values()))
    layer.train()
    seen = {}
    gates = layer.gates
    layer.gates = lambda x: (seen.setdefault("router_input", x), gates(x))[1]
    layer.dropout.register_forward_hook(lambda _m, _i, out: seen.setdefault("dropped", out))
    x = torch.randn(2, 5, layer.in_features)
    slot.set(torch.zeros(2, 5, dtype=torch.long))
    layer(x)
    assert torch.equal(seen["router_input"], x)  # not the dropped-out input
    dropped = seen["dropped"]  # [B, T, N, d]: one mask per expert
    assert dropped.shape[2] == layer.spec.experts
    masks = dropped != 0
    assert not torch.equal(masks[:, :, 0], masks[:, :, 1])
