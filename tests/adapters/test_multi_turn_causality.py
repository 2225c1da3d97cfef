"""Causality across turns, for every registered method: in a joint 2-turn sample rendered by the
real renderer, changing only the turn-2 question leaves every hidden state before it unchanged,
bit for bit. (Media tokens attend to the query text; were a later question a key, the turn-1
answer would be trained on a question that does not exist yet at inference.)"""

import json

import pytest
import torch
from helpers import randomize_zero_params

from moka_train.adapters import AdapterSpec, RoutingSlot, apply_adapters, available_methods
from moka_train.data.records import parse_record
from moka_train.data.tokenize import add_placeholder_tokens, render
from moka_train.modality import QUERY, build_modality_specs
from moka_train.testing.llm import make_tiny_llm
from moka_train.testing.tokenizer import make_tiny_tokenizer

TURN1 = "This is a video:\n<video>\nThis is an audio:\n<audio>\nPlease answer this question: What colour is it?"
OPTIONS = {"lora_moe": {"num_experts": 3}}


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """Token ids and modality ids of the same 2-turn sample with two different turn-2 questions,
    and where the turn-2 question starts."""
    tok = make_tiny_tokenizer(tmp_path_factory.mktemp("tok"), "llama3")
    specs = build_modality_specs([("video", "<video>", 6), ("audio", "<audio>", 4)])
    add_placeholder_tokens(tok, specs)
    out = []
    for question in ("Is the tone high or low?", "Is the shape red or blue?"):
        convs = [
            {"from": "human", "value": TURN1},
            {"from": "gpt", "value": "The shape is red."},
            {"from": "human", "value": question},
            {"from": "gpt", "value": "The tone is high."},
        ]
        record = {"id": "s", "video": "v.mp4", "audio": "a.wav", "conversations": convs}
        out.append(render(parse_record(json.dumps(record), "mem:1"), "llama3", tok, specs, None, "Be brief."))
    a, b = out
    assert len(a) == len(b)
    start = int((a.input_ids != b.input_ids).nonzero()[0])
    assert (a.modality_ids[start:] != QUERY).all()  # the later question is plain text
    return tok, a, b, start


@pytest.mark.parametrize("method", available_methods())
def test_a_later_question_never_changes_earlier_hidden_states(method, two_versions):
    tok, a, b, start = two_versions
    model = make_tiny_llm("llama", seed=0, vocab_size=len(tok))
    slot = RoutingSlot(2)
    spec = AdapterSpec(
        method=method, rank=4, alpha=16.0, dropout=0.0, modalities=("video", "audio"), **OPTIONS.get(method, {})
    )
    apply_adapters(model, spec, slot)
    randomize_zero_params(model, seed=0)
    model.eval()
    states = []
    with torch.no_grad():
        for r in (a, b):
            slot.set(r.modality_ids[None])
            out = model(input_ids=r.input_ids[None], output_hidden_states=True)
            states.append(out.hidden_states)
    for layer, (x, y) in enumerate(zip(*states)):
        assert torch.equal(x[:, :start], y[:, :start]), f"{method}: layer {layer} changed before the turn-2 question"
