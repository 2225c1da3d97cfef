"""Routing-derived decode state lives in the routing slot, not in the layers; a routing of another
batch size fails loudly instead of being tiled; beams are expanded explicitly (slot.expand_batch,
called by MultimodalLM.generate)."""

import pytest
import torch
from helpers import adapted, mixed_batch

from moka_train.adapters import Routing, RoutingError, adapter_modules

DECODE_STATE_METHODS = ["moka_text_query", "wander"]  # the two methods that keep prefill state
WANDER = {"options": {"width": 3, "cp_rank": 2, "token_rank": 2, "max_tokens": 32}}


def _routed_model(method):
    """A tiny adapted LLaMA with the routing of a 2-row mixed batch set: (model, slot, ids, mod)."""
    model, slot, _ = adapted("llama", method, **(WANDER if method == "wander" else {}))
    ids, mod, _ = mixed_batch(batch=2, tokens=16, seed=4)
    slot.set(mod)
    return model, slot, ids, mod


def _routing_derived(value) -> bool:
    items = value if isinstance(value, tuple | list) else (value,)
    return any(isinstance(v, torch.Tensor | Routing) for v in items)


@pytest.mark.parametrize("method", DECODE_STATE_METHODS)
def test_layers_hold_no_routing_derived_state_after_decoding(method):
    model, slot, ids, mod = _routed_model(method)
    with torch.no_grad():
        model.generate(input_ids=ids, max_new_tokens=3, do_sample=False, pad_token_id=0, eos_token_id=None)
    for name, layer in adapter_modules(model).items():
        # parameters and buffers live in _parameters / _buffers; anything else tensor-like is a cache
        held = sorted(k for k, v in vars(layer).items() if _routing_derived(v))
        assert held == [], f"{name} keeps {held}"
    # what decode read is the slot's, for the routing's rows, and the next set() drops it
    layer = next(iter(adapter_modules(model).values()))
    assert slot.decode_state(layer, 2)[0].shape[0] == 2
    slot.set(mod)
    with pytest.raises(RoutingError, match="without a matching prefill"):
        slot.decode_state(layer, 2)


@pytest.mark.parametrize("method", ["moka", *DECODE_STATE_METHODS])
def test_a_routing_of_another_batch_size_fails_loudly(method):
    model, slot, ids, mod = _routed_model(method)
    with torch.no_grad(), pytest.raises(RoutingError, match=r"stale routing.*\[2, 16\].*\[4, 16\].*expand_batch\(2\)"):
        model(input_ids=ids.repeat_interleave(2, dim=0))  # 4 rows for a routing of 2: was silently tiled
    with torch.no_grad(), pytest.raises(RoutingError, match="stale routing"):
        model.generate(input_ids=ids, max_new_tokens=2, num_beams=2, do_sample=False, pad_token_id=0, eos_token_id=None)


@pytest.mark.parametrize("method", DECODE_STATE_METHODS)
def test_decode_state_of_another_batch_size_fails_loudly(method):
    model, slot, ids, mod = _routed_model(method)
    with torch.no_grad():
        model(input_ids=ids)  # prefill: each layer keeps its decode state in the slot
    layer = next(iter(adapter_modules(model).values()))
    slot.decoding = True
    with torch.no_grad(), pytest.raises(RoutingError, match=r"stale routing.*2 rows.*has 4.*expand_batch\(2\)"):
        layer(torch.randn(4, 1, layer.in_features))


def test_expand_batch_repeats_rows_and_kept_state_in_place():
    model, slot, ids, mod = _routed_model("moka_text_query")
    with torch.no_grad():
        model(input_ids=ids)
    layer = next(iter(adapter_modules(model).values()))
    media, valid = slot.decode_state(layer, 2)
    routing = slot.expand_batch(3)
    assert torch.equal(routing.modality_ids, mod.repeat_interleave(3, dim=0))
    expanded_media, expanded_valid = slot.decode_state(layer, 6)
    assert torch.equal(expanded_media, media.repeat_interleave(3, dim=0))
    assert torch.equal(expanded_valid, valid.repeat_interleave(3, dim=0))
    with pytest.raises(ValueError, match="positive"):
        slot.expand_batch(0)


def test_multimodal_generate_expands_the_routing_for_beams(workspace, monkeypatch):
    """MultimodalLM.generate calls slot.expand_batch: batched beams (2 returned each) equal one
    sample at a time, on the real model built from the tiny recipe."""
    from pathlib import Path

    from torch.utils.data import DataLoader, Subset

    from moka_train.config import load_config
    from moka_train.data.collate import Collator
    from moka_train.data.dataset import MultimodalDataset
    from moka_train.data.tokenizer import load_tokenizer
    from moka_train.model.build import build_model

    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml")
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer, cfg.adapter).eval()
    with torch.no_grad():  # non-zero B so a wrongly routed row changes the beams
        for module in adapter_modules(model.llm).values():
            module.lora_B.normal_(0, 0.05)
    data = MultimodalDataset.from_file(
        cfg.data.train_file, cfg.data, tokenizer, [b.spec for b in model.branches], generation=True
    )
    collate = Collator(tokenizer.pad_token_id, "left")

    def beams(batch_size):
        loader = DataLoader(Subset(data, [0, 1, 2]), batch_size=batch_size, collate_fn=collate)
        kwargs = dict(num_beams=2, num_return_sequences=2, max_new_tokens=4, do_sample=False)
        kwargs.update(pad_token_id=tokenizer.pad_token_id, eos_token_id=None)
        return torch.cat([model.generate(batch, **kwargs) for batch in loader])

    together = beams(3)
    assert together.shape[0] == 6  # two returned sequences per sample
    assert torch.equal(together, beams(1))
