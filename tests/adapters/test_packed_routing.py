"""Packed rows (data.packing) against the same samples unpacked, for every registered method on
tiny LLaMA / Qwen2 models with eager and sdpa attention: the same per-sample losses and
per-sample gradients (1e-5, fp32); and a sample's media never see another sample's question
(changing it leaves every other sample's hidden states unchanged, bit for bit)."""

import pytest
import torch
from helpers import VOCAB, randomize_zero_params

from moka_train.adapters import AdapterSpec, RoutingSlot, adapter_modules, apply_adapters, available_methods
from moka_train.data.collate import Collator
from moka_train.data.tokenize import IGNORE_INDEX
from moka_train.modality import QUERY
from moka_train.testing.llm import make_tiny_llm

OPTIONS = {
    "lora_moe": {"num_experts": 3},
    "wander": {"options": {"width": 3, "cp_rank": 2, "token_rank": 2, "max_tokens": 16}},
}
# (text, video, audio, query, answer) token counts: media of both kinds, one kind, none; a
# sample without query text; answers of different lengths
LAYOUTS = [(2, 4, 3, 5, 6), (1, 4, 0, 2, 9), (3, 0, 3, 4, 3), (4, 0, 0, 3, 5), (1, 4, 3, 0, 4), (2, 4, 3, 6, 12)]
CAPACITY = 48


def sample(index, layout, seed=0):
    gen = torch.Generator().manual_seed(seed * 100 + index)
    text, video, audio, query, answer = layout
    mod = torch.tensor([0] * text + [2] * video + [3] * audio + [QUERY] * query + [0] * answer)
    ids = torch.randint(5, VOCAB, (len(mod),), generator=gen)
    labels = torch.full_like(ids, IGNORE_INDEX)
    labels[-answer:] = ids[-answer:]
    return {"id": f"s{index}", "input_ids": ids, "labels": labels, "modality_ids": mod}


def samples(seed=0):
    return [sample(i, layout, seed) for i, layout in enumerate(LAYOUTS)]


def model_for(method, family="llama", attention="sdpa", **spec_kw):
    model = make_tiny_llm(family, seed=0, vocab_size=VOCAB)
    model.set_attn_implementation(attention)
    slot = RoutingSlot(2)
    spec = AdapterSpec(
        method=method,
        rank=4,
        alpha=16.0,
        dropout=0.0,
        modalities=("video", "audio"),
        **OPTIONS.get(method, {}),
        **spec_kw,
    )
    apply_adapters(model, spec, slot)
    randomize_zero_params(model, seed=0)
    return model, slot


def run(model, slot, batch):
    """Logits [R, W, V] and hidden states, the way MultimodalLM.forward calls the backbone."""
    slot.set(batch["modality_ids"], batch.get("segment_ids"))
    if "segment_ids" in batch:
        mask = {"attention_mask": None, "position_ids": batch["position_ids"]}
    else:
        mask = {"attention_mask": batch["attention_mask"]}
    return model(input_ids=batch["input_ids"], use_cache=False, output_hidden_states=True, **mask)


def token_sample(batch):
    """[R, W] the sample index (into batch["ids"]) of every token, -1 on padding."""
    if "segment_ids" in batch:
        return batch["segment_ids"]
    rows = torch.arange(batch["input_ids"].shape[0])[:, None].expand_as(batch["input_ids"])
    return torch.where(batch["attention_mask"].bool(), rows, torch.full_like(rows, -1))


def per_sample_losses(logits, batch):
    """Mean next-token cross-entropy over each sample's labels, ordered by sample id."""
    labels, owner = batch["labels"][:, 1:], token_sample(batch)[:, 1:]
    ce = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels.flatten(), reduction="none")
    used = labels.flatten() != IGNORE_INDEX
    count = len(batch["ids"])
    sums = ce.new_zeros(count).index_add(0, owner.flatten()[used], ce[used])
    tokens = ce.new_zeros(count).index_add(0, owner.flatten()[used], ce.new_ones(int(used.sum())))
    losses = sums / tokens
    order = sorted(range(count), key=lambda i: batch["ids"][i])
    return losses[order]


def assert_same_per_sample(packed, padded):
    """(losses [S], gradients [S, P]) equal to 1e-5 of each sample's largest value: fp32 sums
    taken in another order (another row width) differ in the last bits, nothing more."""
    for got, want in zip(packed, padded):
        scale = want.abs().amax(dim=-1, keepdim=True).clamp(min=1.0)
        assert ((got - want).abs() / scale).max() <= 1e-5, float(((got - want).abs() / scale).max())


def per_sample_gradients(model, slot, batch):
    params = [p for m in adapter_modules(model).values() for _, p in m.adapter_named_parameters()]
    losses = per_sample_losses(run(model, slot, batch).logits, batch)
    grads = [
        torch.cat(
            [
                g.flatten()
                for g in torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
                if g is not None
            ]
        )
        for loss in losses
    ]
    return losses.detach(), torch.stack(grads)


@pytest.fixture(scope="module")
def batches():
    items = samples()
    packed = Collator(0, packing_length=CAPACITY)(items)
    assert packed["input_ids"].shape[0] < len(items)  # several samples share a row
    assert packed["segment_ids"].max() == len(items) - 1
    return Collator(0)(items), packed


def test_packed_rows_restart_positions_and_mark_samples(batches):
    padded, packed = batches
    for s, sid in enumerate(packed["ids"]):
        where = packed["segment_ids"] == s
        row = int(where.any(dim=1).nonzero())
        positions = packed["position_ids"][row][where[row]]
        assert torch.equal(positions, torch.arange(len(positions)))
        unpacked_row = padded["ids"].index(sid)
        length = int(padded["attention_mask"][unpacked_row].sum())
        assert torch.equal(packed["input_ids"][row][where[row]], padded["input_ids"][unpacked_row, :length])
        assert packed["labels"][row][where[row]][0] == IGNORE_INDEX  # never predicted from the previous sample


@pytest.mark.parametrize("family,attention", [("llama", "sdpa"), ("llama", "eager"), ("qwen2", "sdpa")])
@pytest.mark.parametrize("method", ["lora", "moka"])
def test_lora_and_moka_packed_equal_unpacked_on_every_backbone(method, family, attention, batches):
    padded, packed = batches
    model, slot = model_for(method, family, attention)
    assert_same_per_sample(per_sample_gradients(model, slot, packed), per_sample_gradients(model, slot, padded))


@pytest.mark.parametrize("temperature", ["official", "num_query"])
@pytest.mark.parametrize("method", available_methods())
def test_every_method_packed_equals_unpacked(method, temperature, batches):
    padded, packed = batches
    model, slot = model_for(method, temperature=temperature)
    assert_same_per_sample(per_sample_gradients(model, slot, packed), per_sample_gradients(model, slot, padded))


def with_new_question(items, index):
    """The items, sample ``index``'s question tokens replaced by others (same length)."""
    changed = [dict(it) for it in items]
    question = changed[index]["modality_ids"] == QUERY
    changed[index]["input_ids"] = torch.where(
        question, (changed[index]["input_ids"] + 7) % VOCAB, changed[index]["input_ids"]
    )
    return changed


@pytest.mark.parametrize("method", available_methods())
def test_a_question_never_reaches_another_packed_sample(method):
    """For every sample that has a question and shares its row: its question tokens change
    (same length); every other sample of the batch keeps its hidden states bit for bit, in
    every layer, while the sample itself changes."""
    items = samples()
    collate = Collator(0, packing_length=CAPACITY)
    batch = collate(items)
    model, slot = model_for(method)
    model.eval()
    with torch.no_grad():
        reference = run(model, slot, batch).hidden_states
    checked = 0
    for position, sid in enumerate(batch["ids"]):
        row = (batch["segment_ids"] == position).any(dim=1)
        sharing = int(((batch["segment_ids"][row] >= 0) & (batch["segment_ids"][row] != position)).sum())
        index = int(sid[1:])
        if not sharing or not (items[index]["modality_ids"] == QUERY).any():
            continue
        other = collate(with_new_question(items, index))
        assert other["ids"] == batch["ids"] and not torch.equal(batch["input_ids"], other["input_ids"])
        with torch.no_grad():
            states = run(model, slot, other).hidden_states
        others = (batch["segment_ids"] != position) & (batch["segment_ids"] >= 0)
        for layer, (x, y) in enumerate(zip(reference, states)):
            assert torch.equal(x[others], y[others]), f"{method}: layer {layer}: the question of {sid} leaked"
        assert not torch.equal(reference[-1][~others], states[-1][~others])  # the sample itself changed
        checked += 1
    assert checked >= 2  # two rows hold a sample with a question next to another sample
