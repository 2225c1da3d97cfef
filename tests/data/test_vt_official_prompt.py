"""The visual-text training sample as the official code builds it (GeWu-Lab/MokA VisualText/train/
train.py 88-109, 191-231), on the real LLaMA-2 tokenizer (tests/fixtures/tokenizers/llama2).

Oracle, computed here from the official rules alone:
- every split turn's user text is ``This is an image:\\n<image>\\nPlease answer this question: {q}``
  (q = the human value without ``<image>``, stripped), system "You are a helpful assistant.";
- ids = ``tokenizer.encode(apply_chat_template(messages, tokenize=False).replace('<image>',
  '<image>' * 32), add_special_tokens=False)``;
- target = from after each ``[/INST]`` up to and including the next ``</s>``;
- question_mask = not image, not target, after the last image token.
The official text also carries ``<image_start>``/``<image_end>`` markers around the image; the
recipe's ``prompt_style: placeholders`` leaves them out (README: a documented difference), so the
oracle string is the official construction without them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from moka_train.data.query_span import QueryRules
from moka_train.data.records import parse_record, split_turns
from moka_train.data.tokenize import IGNORE_INDEX, add_placeholder_tokens, render
from moka_train.modality import QUERY, build_modality_specs

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "data_prep"))  # converters run as scripts
import convert_llava_instruct  # noqa: E402

TOKENIZER = Path(__file__).resolve().parents[1] / "fixtures" / "tokenizers" / "llama2"
SYSTEM = "You are a helpful assistant."
IMAGE_TOKENS = 32
LLAVA = [  # one LLaVA-Instruct-150K conversation, the placeholder where annotators put it
    {"from": "human", "value": "What is the man holding?\n<image>"},
    {"from": "gpt", "value": "He holds a red umbrella."},
    {"from": "human", "value": "Is it raining?"},
    {"from": "gpt", "value": "Yes, the street is wet."},
]


@pytest.fixture(scope="module")
def tok_and_specs():
    tok = AutoTokenizer.from_pretrained(str(TOKENIZER))
    specs = build_modality_specs([("image", "<image>", IMAGE_TOKENS)])
    add_placeholder_tokens(tok, specs)
    return tok, specs


def official(tok, human: str, answer: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ids, target mask and question_mask of one split turn, as VT train/train.py computes them."""
    value = "This is an image:\n<image>\nPlease answer this question: " + human.replace("<image>", "").strip()
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": value},
        {"role": "assistant", "content": answer},
    ]
    text = tok.apply_chat_template(messages, tokenize=False).replace("<image>", "<image>" * IMAGE_TOKENS)
    ids = tok.encode(text, add_special_tokens=False)
    inst, eos = tok.encode("[/INST]", add_special_tokens=False), tok.encode("</s>", add_special_tokens=False)
    target = [False] * len(ids)
    i = 0
    while i < len(ids):
        if ids[i : i + len(inst)] == inst:
            start = i + len(inst)
            end = next((j for j in range(start, len(ids)) if ids[j : j + len(eos)] == eos), -1)
            if end >= 0:
                target[start : end + len(eos)] = [True] * (end + len(eos) - start)
                i = end + len(eos)
                continue
        i += 1
    ids_t, target_t = torch.tensor(ids), torch.tensor(target)
    image = ids_t == tok.convert_tokens_to_ids("<image>")
    after = torch.arange(len(ids)) > torch.nonzero(image)[-1, 0]
    return ids_t, target_t, ~image & ~target_t & after


def test_every_split_turn_renders_the_official_ids_labels_and_keys(tok_and_specs):
    tok, specs = tok_and_specs
    row = {"id": "llava_1", "image": "i.jpg", "conversations": convert_llava_instruct.normalise(LLAVA)}
    parts = split_turns(parse_record(json.dumps(row), "t:1"))
    assert len(parts) == 2
    for k, part in enumerate(parts):
        rendered = render(part, "chat", tok, specs, 4096, SYSTEM, rules=QueryRules(mode="after_media"))
        ids, target, question = official(tok, LLAVA[2 * k]["value"], LLAVA[2 * k + 1]["value"])
        assert rendered.input_ids.tolist() == ids.tolist(), f"turn {k}: {tok.decode(rendered.input_ids)!r}"
        trained = rendered.labels != IGNORE_INDEX
        assert trained.tolist() == target.tolist()
        assert rendered.labels[trained].tolist() == ids[target].tolist()
        keys = rendered.modality_ids == QUERY
        assert keys.tolist() == question.tolist(), tok.decode(rendered.input_ids[keys])
        # the keys are the instruction, the question and the template's [/INST]
        assert tok.decode(rendered.input_ids[keys]).strip().startswith("Please answer this question:")
        assert tok.decode(rendered.input_ids[keys]).endswith("[/INST]")


def test_the_audio_visual_span_is_unchanged(tok_and_specs):
    # data.query_span: question (the default) keeps the official AV span: the question line only
    tok, specs = tok_and_specs
    row = {"id": "q", "image": "i.jpg", "conversations": convert_llava_instruct.normalise(LLAVA[:2])}
    rendered = render(parse_record(json.dumps(row), "t:1"), "chat", tok, specs, 4096, SYSTEM)
    keys = tok.decode(rendered.input_ids[rendered.modality_ids == QUERY])
    assert keys == "Please answer this question: What is the man holding?"
