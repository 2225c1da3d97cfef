"""Qwen3: the real Qwen3-8B chat template (tests/fixtures/chat_templates/qwen3.jinja) on the real Qwen3
vocabulary, rendered with thinking off as the recipes do; the tiny Qwen3 loads back through the
same code as every backbone and trains with MokA.

The real Qwen3 tokenizer is the Qwen2.5 one (tests/fixtures/tokenizers/qwen25: the same byte-level
BPE and the same 22 added tokens 151643-151664) plus four non-special added tokens
``<tool_response>``, ``</tool_response>``, ``<think>``, ``</think>`` (151665-151668).
"""

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.dataset import build_dataset
from moka_train.data.records import for_generation, parse_record
from moka_train.data.tokenize import IGNORE_INDEX, Renderer, RenderError, add_placeholder_tokens
from moka_train.data.tokenizer import load_tokenizer
from moka_train.modality import QUERY, build_modality_specs
from moka_train.model.build import build_model
from moka_train.testing.qwen3 import make_tiny_qwen3

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
TEMPLATE = (FIXTURES / "chat_templates" / "qwen3.jinja").read_text()
THINKING_OFF = {"enable_thinking": False}
QUESTION = "Please answer this question: What colour is the moving shape?"
USER = f"This is a video:\n<video>\nThis is an audio:\n<audio>\n{QUESTION}"


@pytest.fixture(scope="module")
def specs():
    return build_modality_specs([("video", "<video>", 6), ("audio", "<audio>", 4)])


@pytest.fixture(scope="module")
def qwen3_tokenizer(specs):
    tok = AutoTokenizer.from_pretrained(str(FIXTURES / "tokenizers" / "qwen25"))
    assert tok.add_tokens(["<tool_response>", "</tool_response>", "<think>", "</think>"]) == 4
    assert tok.convert_tokens_to_ids("</think>") == 151668  # the real Qwen3 id
    tok.chat_template = TEMPLATE
    add_placeholder_tokens(tok, specs)
    return tok


def sample(turns, generation):
    convs = [{"from": f, "value": v} for user, answer in turns for f, v in (("human", user), ("gpt", answer))]
    s = parse_record(json.dumps({"id": "s", "video": "v.mp4", "audio": "a.wav", "conversations": convs}), "mem:1")
    return for_generation(s) if generation else s


def collapse(rendered):
    """Ids with each media run collapsed to one placeholder (the template's own form)."""
    ids, mids = rendered.input_ids.tolist(), rendered.modality_ids.tolist()
    return [ids[k] for k in range(len(ids)) if not (k and mids[k] >= 2 and mids[k] == mids[k - 1])]


def messages(turns, generation):
    out = []
    for k, (user, answer) in enumerate(turns):
        out.append({"role": "user", "content": user})
        if not (generation and k == len(turns) - 1):
            out.append({"role": "assistant", "content": answer})
    return out


@pytest.mark.parametrize("generation", [False, True], ids=["train", "generate"])
def test_thinking_off_render_equals_the_real_template(generation, qwen3_tokenizer, specs):
    tok, turns = qwen3_tokenizer, [(USER, "The shape is red.")]
    rendered = Renderer(tok, "chat", specs, None, template_kwargs=THINKING_OFF).render(
        sample(turns, generation), generation
    )
    text = tok.apply_chat_template(
        messages(turns, generation), tokenize=False, add_generation_prompt=generation, **THINKING_OFF
    )
    assert collapse(rendered) == tok(text, add_special_tokens=False)["input_ids"]
    # the empty think block precedes the answer in training as it ends the prompt in generation
    assert "<|im_start|>assistant\n<think>\n\n</think>\n\n" + ("" if generation else "The shape is red.") in text
    trained = rendered.input_ids[rendered.labels != IGNORE_INDEX]
    assert tok.decode(trained) == ("" if generation else "The shape is red.<|im_end|>")
    assert tok.decode(rendered.input_ids[rendered.modality_ids == QUERY]) == QUESTION


def test_history_answers_lose_their_think_block_and_stay_labelled(qwen3_tokenizer, specs):
    """Qwen3's template drops the (empty) think block of answers before the last question: one
    rendering of the whole conversation places both answers exactly."""
    tok = qwen3_tokenizer
    turns = [(USER, "The shape is red."), ("Is the tone high or low?", "The tone is low.")]
    rendered = Renderer(tok, "chat", specs, None, template_kwargs=THINKING_OFF).render(sample(turns, False))
    text = tok.apply_chat_template(messages(turns, False), tokenize=False, **THINKING_OFF)
    assert text.count("<think>") == 1 and collapse(rendered) == tok(text, add_special_tokens=False)["input_ids"]
    trained = rendered.input_ids[rendered.labels != IGNORE_INDEX]
    assert tok.decode(trained) == "The shape is red.<|im_end|>The tone is low.<|im_end|>"


def test_an_answer_with_a_think_block_is_refused_by_name(qwen3_tokenizer, specs):
    """The template moves a reasoning block out of the content: labels could not be placed."""
    tok = qwen3_tokenizer
    bad = sample([(USER, "<think>\nred?\n</think>\n\nThe shape is red.")], False)
    with pytest.raises(RenderError, match="sample s .*the chat template changes the content of message"):
        Renderer(tok, "chat", specs, None, template_kwargs=THINKING_OFF).render(bad)


@pytest.mark.parametrize("scenario", ["avqa", "ave", "visual", "speech"])
def test_qwen3_recipes_render_with_thinking_off(scenario, monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_ROOT", str(tmp_path))
    monkeypatch.setenv("DATA_ROOT", str(tmp_path))
    cfg = load_config(ROOT / "configs" / f"{scenario}_qwen3.yaml")
    assert cfg.model.llm_path == str(tmp_path / "Qwen3-8B")
    assert cfg.data.template == "chat" and cfg.data.template_kwargs == THINKING_OFF


def test_tiny_qwen3_loads_back_and_moka_trains(workspace, tmp_path, monkeypatch):
    make_tiny_qwen3(tmp_path / "qwen3", TEMPLATE)
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    cfg = load_config(
        ROOT / "configs" / "tiny_avqa.yaml",
        [f"model.llm_path={tmp_path / 'qwen3'}", "data.template=chat", "data.template_kwargs={enable_thinking: false}"],
    )
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer, cfg.adapter)
    assert type(model.llm).__name__ == "Qwen3ForCausalLM"
    dataset = build_dataset(cfg.data, tokenizer, [b.spec for b in model.branches])
    batch = Collator(tokenizer.pad_token_id)([dataset[i] for i in range(2)])
    assert "<think>\n\n</think>\n\n" in tokenizer.decode(batch["input_ids"][0])
    model(batch)["loss"].backward()
    roles = {model.role_of(n) for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert "adapter" in roles and {"projector.video", "projector.audio"} <= roles and "llm" not in roles
