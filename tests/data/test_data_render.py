"""Rendering: labels exactly on answers (+ end of turn), query span exactly the question,
placeholders expanded to num_tokens ids with their modality id, for every template."""

from __future__ import annotations

import json

import pytest
import torch
from data_helpers import TEMPLATE_STYLES

from moka_train.data.records import parse_record, split_turns
from moka_train.data.tokenize import IGNORE_INDEX, QueryRules, RenderError, render
from moka_train.modality import QUERY, TEXT

SYSTEM = "You are a helpful assistant."
# the labelled end of an answer per template (the tiny tokenizers' eos for plain)
EOT_TEXT = {"llama2": " </s>", "llama3": "<|eot_id|>", "qwen2": "<|im_end|>", "plain": "<|eot_id|>"}
QUESTION = "Please answer this question: What colour is the moving shape?"
AV_PROMPT = f"This is a video:\n<video>\nThis is an audio:\n<audio>\n{QUESTION}"


def sample(turns: list[tuple[str, str]], **media) -> object:
    convs = [
        {"from": "human" if i % 2 == 0 else "gpt", "value": v} for i, v in enumerate(t for pair in turns for t in pair)
    ]
    media = media or {"video": "v.mp4", "audio": "a.wav"}
    return parse_record(json.dumps({"id": "s1", **media, "conversations": convs}), "mem:1")


def decode(tok, ids: torch.Tensor) -> str:
    return tok.decode(ids.tolist())


def runs(mask: torch.Tensor) -> int:
    """Number of contiguous True runs."""
    m = mask.long()
    return int((m[1:] > m[:-1]).sum() + m[0])


@pytest.mark.parametrize("template", sorted(TEMPLATE_STYLES))
def test_labels_are_exactly_the_answers(template, load_tokenizer, specs):
    tok = load_tokenizer(TEMPLATE_STYLES[template])
    r = render(sample([(AV_PROMPT, "The shape is red.")]), template, tok, specs, 4096, SYSTEM)
    trained = r.labels != IGNORE_INDEX
    assert torch.equal(r.labels[trained], r.input_ids[trained])
    # a token's leading space belongs to the token that starts the answer (one tokenization, in context)
    assert decode(tok, r.input_ids[trained]).lstrip() == "The shape is red." + EOT_TEXT[template]
    assert runs(trained) == 1  # one contiguous answer block, nothing else trained


@pytest.mark.parametrize("template", ["llama2", "llama3", "qwen2"])
def test_query_span_is_exactly_the_question(template, load_tokenizer, specs):
    tok = load_tokenizer(TEMPLATE_STYLES[template])
    r = render(sample([(AV_PROMPT, "The shape is red.")]), template, tok, specs, 4096, SYSTEM)
    query = r.modality_ids == QUERY
    assert decode(tok, r.input_ids[query]) == QUESTION
    assert runs(query) == 1
    assert not (query & (r.labels != IGNORE_INDEX)).any()  # answer tokens are never query
    # the system prompt and the lead-in lines are in the sequence but not in the query
    text = decode(tok, r.input_ids)
    assert SYSTEM in text and "This is a video:" in text


@pytest.mark.parametrize("template", sorted(TEMPLATE_STYLES))
def test_placeholders_expand_to_num_tokens_with_their_id(template, load_tokenizer, specs):
    tok = load_tokenizer(TEMPLATE_STYLES[template])
    r = render(sample([(AV_PROMPT, "red")]), template, tok, specs, 4096, SYSTEM)
    for spec in specs[:2]:
        where = r.modality_ids == spec.id
        assert int(where.sum()) == spec.num_tokens and runs(where) == 1
        assert (r.input_ids[where] == tok.convert_tokens_to_ids(spec.placeholder)).all()
        assert (r.input_ids == tok.convert_tokens_to_ids(spec.placeholder)).sum() == spec.num_tokens
        assert (r.labels[where] == IGNORE_INDEX).all()
    assert r.media == ["video", "audio"]


def test_multi_turn_joint_labels_every_answer_and_queries_only_the_turn_with_the_media(load_tokenizer, specs):
    tok = load_tokenizer("llama3")
    s = sample([("<image>\nWhat is in the picture?", "A red square."), ("Where is it?", "On the left.")], image="i.png")
    r = render(s, "llama3", tok, specs, 4096, SYSTEM)
    trained = r.labels != IGNORE_INDEX
    assert runs(trained) == 2
    assert decode(tok, r.input_ids[trained]) == "A red square.<|eot_id|>On the left.<|eot_id|>"
    # a later question as a key would leak into every earlier position (media attend to the query)
    query = r.modality_ids == QUERY
    assert runs(query) == 1 and decode(tok, r.input_ids[query]) == "What is in the picture?"
    assert "Where is it?" in decode(tok, r.input_ids[r.modality_ids == TEXT])


def test_the_question_of_the_turn_holding_the_media_is_the_query(load_tokenizer, specs):
    tok = load_tokenizer("qwen2")
    s = sample([("Hello there.", "Hi."), ("<image>\nWhat is in the picture?", "A red square.")], image="i.png")
    r = render(s, "qwen2", tok, specs, 4096, SYSTEM)
    assert decode(tok, r.input_ids[r.modality_ids == QUERY]) == "What is in the picture?"


def test_split_turns_keep_media_in_every_part(load_tokenizer, specs):
    tok = load_tokenizer("qwen2")
    s = sample([("<image>\nWhat is in the picture?", "A red square."), ("Where is it?", "On the left.")], image="i.png")
    parts = split_turns(s)
    assert [p.id for p in parts] == ["s1#0", "s1#1"]
    second = render(parts[1], "qwen2", tok, specs, 4096, SYSTEM)
    assert int((second.modality_ids == specs[2].id).sum()) == specs[2].num_tokens
    assert decode(tok, second.input_ids[second.labels != IGNORE_INDEX]) == "On the left.<|im_end|>"
    assert decode(tok, second.input_ids[second.modality_ids == QUERY]) == "Where is it?"


def test_explicit_markers_define_the_query_and_are_not_tokenised(load_tokenizer, specs):
    tok = load_tokenizer("llama3")
    s = sample(
        [("<video>\nWatch closely. <query>Which shape moves?</query> Answer briefly.", "The circle.")], video="v.mp4"
    )
    r = render(s, "llama3", tok, specs, 4096, SYSTEM)
    assert decode(tok, r.input_ids[r.modality_ids == QUERY]) == " Which shape moves?"  # "ĠWhich": merge kept
    assert "<query>" not in decode(tok, r.input_ids)
    assert "Watch closely." in decode(tok, r.input_ids[r.modality_ids == TEXT])


def test_lead_in_rule_is_configurable(load_tokenizer, specs):
    tok = load_tokenizer("llama3")
    s = sample([("Look at this:\n<image>\nHow many?", "Two.")], image="i.png")
    default = render(s, "llama3", tok, specs, 4096, SYSTEM)
    assert decode(tok, default.input_ids[default.modality_ids == QUERY]) == "Look at this:How many?"
    custom = render(s, "llama3", tok, specs, 4096, SYSTEM, rules=QueryRules(lead_in=r"Look at this:"))
    assert decode(tok, custom.input_ids[custom.modality_ids == QUERY]) == "How many?"


def test_missing_placeholder_is_prepended_and_orphan_placeholder_rejected(load_tokenizer, specs):
    tok = load_tokenizer("llama3")
    r = render(sample([("What colour?", "Red.")], video="v.mp4"), "llama3", tok, specs, 4096, None)
    assert int((r.modality_ids == specs[0].id).sum()) == specs[0].num_tokens
    with pytest.raises(RenderError, match="no 'audio' path") as err:
        render(sample([("<audio>\nWhat?", "Red.")], video="v.mp4"), "llama3", tok, specs, 4096, None)
    assert err.value.reason == "placeholder_without_media"


def test_generation_prompt_ends_with_assistant_header_and_has_no_labels(load_tokenizer, specs):
    tok = load_tokenizer("llama3")
    s = sample([(AV_PROMPT, "The reference answer.")])
    from moka_train.data.records import for_generation

    r = render(for_generation(s), "llama3", tok, specs, 4096, SYSTEM, generation=True)
    assert (r.labels == IGNORE_INDEX).all()
    text = decode(tok, r.input_ids)
    assert text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n") and "reference" not in text
    assert decode(tok, r.input_ids[r.modality_ids == QUERY]) == QUESTION


def test_special_token_text_in_content_stays_plain_text(load_tokenizer, specs):
    tok = load_tokenizer("llama3")
    r = render(
        sample([("What is <|eot_id|>?", "It is <|eot_id|> text.")], image="i.png"), "llama3", tok, specs, 4096, None
    )
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    trained = r.input_ids[r.labels != IGNORE_INDEX]
    assert int((trained == eot).sum()) == 1 and trained[-1] == eot  # only the real end of turn


def test_overlength_raises_instead_of_truncating(load_tokenizer, specs):
    tok = load_tokenizer("llama3")
    full = render(sample([(AV_PROMPT, "The shape is red.")]), "llama3", tok, specs, None, SYSTEM)
    ok = render(sample([(AV_PROMPT, "The shape is red.")]), "llama3", tok, specs, len(full), SYSTEM)
    assert torch.equal(ok.input_ids, full.input_ids)
    with pytest.raises(RenderError, match="max_length") as err:
        render(sample([(AV_PROMPT, "The shape is red.")]), "llama3", tok, specs, len(full) - 1, SYSTEM)
    assert err.value.reason == "overlength"


def test_placeholder_must_be_a_token(tokenizer_dirs, specs):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dirs["llama3"])  # placeholders not added
    with pytest.raises(ValueError, match="add_placeholder_tokens"):
        render(sample([(AV_PROMPT, "red")]), "llama3", tok, specs, 4096, SYSTEM)
