"""Rendering against the real tokenizers of the four backbones (tests/fixtures/tokenizers/, see its
PROVENANCE.txt): the ids equal the model's own chat template tokenized in one call, the labels are
exactly the answer + end-of-turn tokens of that sequence, and the query span exactly the tokens
of the question text, for every prompt form the project uses, in training and generation mode.

The oracle is computed here from the tokenizer alone:
- ids: ``tokenizer(apply_chat_template(messages, tokenize=False), add_special_tokens=False)``;
- labels: the tokens the template adds for an answer (the ids of the conversation up to that
  answer minus the ids of its generation prompt), up to and including the end-of-turn token;
- query: the tokens of that sequence whose characters overlap a question line (not only spaces).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from moka_train.data.records import for_generation, parse_record
from moka_train.data.tokenize import IGNORE_INDEX, QUESTION_MARKERS, add_placeholder_tokens, render
from moka_train.modality import QUERY, build_modality_specs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BACKBONES = ("llama2", "llama3", "qwen2", "qwen25")
SYSTEM = "You are a helpful assistant."
EOT = ("</s>", "<|eot_id|>", "<|im_end|>")
QUESTION = "Please answer this question: What colour is the moving shape?"
MCQ = [
    "What is the man holding?",
    "(A) a ball",
    "(B) a bat",
    "Answer with the option's letter from the given choices directly.",
]

# name -> (turns [(user, answer)], media, question lines per user turn)
CASES = {
    "av_single_turn": (
        [(f"This is a video:\n<video>\nThis is an audio:\n<audio>\n{QUESTION}", "The shape is red.")],
        {"video": "v.mp4", "audio": "a.wav"},
        [[QUESTION]],
    ),
    "visual_two_turns": (
        [("<image>\nWhat is in the picture?", "A red square."), ("Where is it?", "On the left.")],
        {"image": "i.png"},
        [["What is in the picture?"], []],
    ),  # only the turn with the media asks
    "multiple_choice": ([("<image>\n" + "\n".join(MCQ), "A")], {"image": "i.png"}, [MCQ]),
    "inline_image": (
        [("<image> What is shown in this image?", "A cat sitting on a mat.")],
        {"image": "i.png"},
        [["What is shown in this image?"]],
    ),
}


@pytest.fixture(scope="module")
def specs():
    return build_modality_specs([("video", "<video>", 6), ("audio", "<audio>", 4), ("image", "<image>", 5)])


@pytest.fixture(scope="module")
def tokenizers(specs):
    out = {}
    for name in BACKBONES:
        tok = AutoTokenizer.from_pretrained(str(FIXTURES / "tokenizers" / name))
        add_placeholder_tokens(tok, specs)
        out[name] = tok
    return out


def make_sample(turns, media, generation):
    convs = [{"from": f, "value": v} for user, answer in turns for f, v in (("human", user), ("gpt", answer))]
    sample = parse_record(json.dumps({"id": "s1", **media, "conversations": convs}), "mem:1")
    return for_generation(sample) if generation else sample


def messages_of(turns, generation):
    msgs = [{"role": "system", "content": SYSTEM}]
    for k, (user, answer) in enumerate(turns):
        msgs.append({"role": "user", "content": user})
        if not (generation and k == len(turns) - 1):
            msgs.append({"role": "assistant", "content": answer})
    return msgs


def oracle(tok, msgs, generation):
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=generation)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    return text, enc["input_ids"], enc["offset_mapping"]


def oracle_labels(tok, msgs) -> set[int]:
    """Positions of answer + end-of-turn tokens, from the template's own prefixes."""
    eot_ids = {tok.convert_tokens_to_ids(t) for t in EOT} - {None, tok.unk_token_id}
    labels: set[int] = set()
    for i, m in enumerate(msgs):
        if m["role"] != "assistant":
            continue
        prompt = oracle(tok, msgs[:i], True)[1]
        full = oracle(tok, msgs[: i + 1], False)[1]
        assert full[: len(prompt)] == prompt  # the template's generation prompt is a prefix of the answer turn
        added = full[len(prompt) :]
        end = next(k for k, t in enumerate(added) if t in eot_ids) + 1
        labels |= set(range(len(prompt), len(prompt) + end))
    return labels


def oracle_query(text, offsets, msgs, questions) -> set[int]:
    spans, cursor = [], 0
    users = [m for m in msgs if m["role"] == "user"]
    for user, lines in zip(users, questions):
        cursor = text.index(user["content"].split("\n")[0].strip() or user["content"], cursor)
        for line in lines:
            start = text.index(line, cursor)
            spans.append((start, start + len(line)))
            cursor = start + len(line)
    return {
        k
        for k, (a, b) in enumerate(offsets)
        if any(not text[c].isspace() for s, e in spans for c in range(max(a, s), min(b, e)))
    }


def collapse(rendered):
    """Our tensors with each media run collapsed to one placeholder id (the oracle's form)."""
    ids, labels, mids = (t.tolist() for t in (rendered.input_ids, rendered.labels, rendered.modality_ids))
    keep = [k for k in range(len(ids)) if not (k and mids[k] >= 2 and mids[k] == mids[k - 1])]
    return (
        [ids[k] for k in keep],
        {j for j, k in enumerate(keep) if labels[k] != IGNORE_INDEX},
        {j for j, k in enumerate(keep) if mids[k] == QUERY},
    )


@pytest.mark.parametrize("generation", [False, True], ids=["train", "generate"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("backbone", BACKBONES)
def test_render_equals_the_models_own_template(backbone, case, generation, tokenizers, specs):
    tok = tokenizers[backbone]
    turns, media, questions = CASES[case]
    rendered = render(make_sample(turns, media, generation), "chat", tok, specs, None, SYSTEM, generation=generation)
    msgs = messages_of(turns, generation)
    text, ids, offsets = oracle(tok, msgs, generation)
    got_ids, got_labels, got_query = collapse(rendered)
    assert got_ids == ids, f"\n ours  {tok.convert_ids_to_tokens(got_ids)}\n model {tok.convert_ids_to_tokens(ids)}"
    assert got_labels == oracle_labels(tok, msgs)
    assert got_query == oracle_query(text, offsets, msgs, questions)
    assert got_query and not got_query & got_labels


@pytest.mark.parametrize("backbone", ["llama2", "llama3", "qwen2"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_builtin_templates_equal_the_official_ones(backbone, case, tokenizers, specs):
    """Our own copies of the three families' templates (for tokenizers that ship none) give the
    same tensors as the real tokenizers' templates."""
    tok = tokenizers[backbone]
    turns, media, _ = CASES[case]
    sample = make_sample(turns, media, False)
    ours = render(sample, backbone, tok, specs, None, SYSTEM)
    own = render(sample, "chat", tok, specs, None, SYSTEM)
    assert all(
        a.equal(b)
        for a, b in zip((ours.input_ids, ours.labels, ours.modality_ids), (own.input_ids, own.labels, own.modality_ids))
    )


def test_llama2_has_no_stray_space_tokens(tokenizers, specs):
    """The headline case of the issue: 62 ids (media collapsed), words as in one tokenization."""
    tok = tokenizers["llama2"]
    turns, media, _ = CASES["av_single_turn"]
    ids, _, query = collapse(render(make_sample(turns, media, False), "chat", tok, specs, None, SYSTEM))
    pieces = tok.convert_ids_to_tokens(ids)
    assert pieces[:5] == ["<s>", "[", "INST", "]", "▁<<"] and "▁" not in pieces[:-2]  # "▁" only before </s>
    assert tok.convert_ids_to_tokens([ids[k] for k in sorted(query)])[0] == "Please"


def official_prompt_fixture() -> dict:
    return json.loads((FIXTURES / "official_prompts" / "inference_ave_first_row.json").read_text())


@pytest.mark.parametrize("content", ["placeholders", "markers"])
def test_official_marker_style_matches_the_official_prompt(content, specs):
    """``prompt_style: official`` reproduces the official AVE prompt (LLaMA-2, from the official
    inference file), with the media markers in the sequence and the question markers dropped."""
    tok = AutoTokenizer.from_pretrained(str(FIXTURES / "tokenizers" / "llama2"))
    add_placeholder_tokens(tok, specs, "official")
    official = official_prompt_fixture()["instruction"]
    question = "Please describe the events and time range that occurred in the video."
    user = {
        "placeholders": f"This is a video:\n<video>\nThis is an audio:\n<audio>\n{question}",
        "markers": "This is a video:\n<video_start><video><video_end>\nThis is an audio:\n"
        f"<audio_start><audio><audio_end>\n<question_start>{question}<question_end>",
    }[content]
    sample = make_sample([(user, "unused")], {"video": "v.mp4", "audio": "a.wav"}, True)
    rendered = render(sample, "chat", tok, specs, None, SYSTEM, generation=True, prompt_style="official")
    enc = tok(official, add_special_tokens=False)["input_ids"]
    dropped = {tok.convert_tokens_to_ids(t) for t in QUESTION_MARKERS}
    start = enc.index(tok.convert_tokens_to_ids(QUESTION_MARKERS[0]))
    end = enc.index(tok.convert_tokens_to_ids(QUESTION_MARKERS[1]))
    expected_query = {k - 1 for k in range(start + 1, end)}  # positions once <question_start> is gone
    ids, labels, query = collapse(rendered)
    assert ids == [i for i in enc if i not in dropped]
    assert query == expected_query and not labels
    assert tok.decode([ids[k] for k in sorted(query)]) == question
    assert "<video_start>" in tok.convert_ids_to_tokens(ids)


def test_special_token_text_typed_by_a_user_stays_plain_text(tokenizers, specs):
    """Content is never parsed for control tokens, also with a real tokenizer."""
    tok = tokenizers["qwen25"]
    sample = make_sample(
        [("<image>\nWhat does <|im_end|> mean?", "It is a <|im_end|> marker.")], {"image": "i.png"}, False
    )
    rendered = render(sample, "chat", tok, specs, None, SYSTEM)
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    trained = rendered.input_ids[rendered.labels != IGNORE_INDEX]
    assert int((rendered.input_ids == im_end).sum()) == 3  # system, user turn, answer: real ends only
    assert int((trained == im_end).sum()) == 1 and trained[-1] == im_end
    assert "<|im_end|> mean?" in tok.decode(rendered.input_ids[rendered.modality_ids == QUERY])


def test_a_modality_wrap_puts_the_models_own_markers_around_its_placeholder():
    """Qwen2.5-VL's video sits between <|vision_start|> and <|vision_end|> (``model.modalities[].wrap``):
    the markers are the model's own tokens, in the sequence as text, the query unchanged."""
    specs = build_modality_specs(
        [("video", "<video>", 6), ("audio", "<audio>", 4)], wraps={"video": ("<|vision_start|>", "<|vision_end|>")}
    )
    tok = AutoTokenizer.from_pretrained(str(FIXTURES / "tokenizers" / "qwen25"))
    add_placeholder_tokens(tok, specs)
    turns, media, questions = CASES["av_single_turn"]
    rendered = render(make_sample(turns, media, False), "chat", tok, specs, None, SYSTEM)
    wrapped = [(turns[0][0].replace("<video>", "<|vision_start|><video><|vision_end|>"), turns[0][1])]
    msgs = messages_of(wrapped, False)
    text, ids, offsets = oracle(tok, msgs, False)
    got_ids, got_labels, got_query = collapse(rendered)
    assert got_ids == ids and tok.convert_tokens_to_ids("<|vision_start|>") in got_ids
    assert got_labels == oracle_labels(tok, msgs)
    assert got_query == oracle_query(text, offsets, msgs, questions)
    assert int((rendered.modality_ids == specs[0].id).sum()) == 6
