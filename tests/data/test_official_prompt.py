"""The official AV prompt is defined once (moka_train/data/official_prompt.py); every user agrees."""

import re

from moka_train.config.sections.data import DEFAULT_LEAD_IN
from moka_train.data.official_prompt import AV_LEAD_IN, media_lead_in, question_prompt
from moka_train.data.question import first_turn
from moka_train.eval.protocol import IMAGE_LEAD_IN, SPEECH_LEAD_IN, music_avqa_prompt
from moka_train.modality import ModalitySpec
from moka_train.testing.synthetic import AV_PROMPT

# GeWu-Lab/MokA AudioVisualText/dataset/unified_dataset.py line 73, with the marker triples as our
# single placeholders and the <question_start>/<question_end> markers left to the renderer
OFFICIAL = "This is a video:\n<video>\nThis is an audio:\n<audio>\nPlease answer this question: Is it loud?"


def test_the_official_av_prompt_is_the_mirrored_text():
    assert question_prompt(AV_LEAD_IN, "Is it loud?") == OFFICIAL


def test_converters_serving_and_the_synthetic_data_use_the_same_text():
    assert music_avqa_prompt("Is it loud?") == OFFICIAL
    assert AV_PROMPT.format(q="Is it loud?") == OFFICIAL
    modalities = [ModalitySpec("video", "<video>", 4, 0), ModalitySpec("audio", "<audio>", 4, 1)]
    # the one prompt builder of infer, serve and the lmms-eval plugin (data/question.py)
    assert first_turn("Is it loud?", ["audio", "video"], modalities) == OFFICIAL


def test_lead_ins_take_the_article_of_their_name():
    assert IMAGE_LEAD_IN == media_lead_in("image", "<image>") == "This is an image:\n<image>\n"
    assert SPEECH_LEAD_IN == "This is a speech:\n<speech>\n"


def test_the_query_span_rule_recognises_every_lead_in_line():
    # data.media_lead_in (a regex in config/, which cannot import data/) must keep matching the
    # text, or the lead-ins would count as query text for MokA's cross-attention
    for name in ("video", "audio", "image", "speech"):
        first_line = media_lead_in(name, f"<{name}>").split("\n")[0]
        assert re.fullmatch(DEFAULT_LEAD_IN, first_line), first_line
