"""The spoken-cards data builder: espeak-ng training speech, held-out voices never used in
training, the real recordings with their transcripts, rows in the shapes the trainer and
`evaluate run --benchmark asr_wer` read."""

import json
import shutil

import pytest

from moka_train.data.media import load_audio
from moka_train.eval.protocol import ASR_INSTRUCTION, asr_prompt
from moka_train.testing import spoken_cards as sc
from real.conftest import require_pocketsphinx


def test_held_out_voices_share_no_accent_or_variant_with_training():
    accents = lambda voices: {v.split("+")[0] for v in voices}  # noqa: E731
    variants = lambda voices: {v.split("+")[1] for v in voices}  # noqa: E731
    assert not accents(sc.HELDOUT_VOICES) & accents(sc.TRAIN_VOICES)
    assert not variants(sc.HELDOUT_VOICES) & variants(sc.TRAIN_VOICES)


def test_cards_transcription_is_parsed_and_a_bad_line_is_named(tmp_path):
    path = tmp_path / "cards.transcription"
    path.write_text("<s> ten of clubs  </s> (001)\n\n<s> five five </s> (004)\n")
    assert sc.read_cards_transcription(path) == {"001": "ten of clubs", "004": "five five"}
    path.write_text("<s> ten of clubs </s> (001)\nno id here\n")
    with pytest.raises(ValueError, match=r"cards.transcription:2: expected"):
        sc.read_cards_transcription(path)


@pytest.mark.real_weights
def test_build_writes_synthetic_and_real_rows_in_the_task_vocabulary(tmp_path):
    pocketsphinx = require_pocketsphinx()
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make real-weights installs it as root)")
    instruction = sc.Instruction(asr_prompt(), ASR_INSTRUCTION)
    counts = sc.build_spoken_cards(tmp_path, pocketsphinx, instruction, train=7, heldout=3, seed=0)
    assert (counts["train"], counts["unseen_voices"], counts["real"]) == (7, 3, 6)
    vocabulary = set(sc.RANKS) | set(sc.SUITS) | set(sc.DIGITS) | {"of"}
    pretrain = [json.loads(line) for line in (tmp_path / "pretrain.jsonl").read_text().splitlines()]
    train = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    heldout = [json.loads(line) for line in (tmp_path / "heldout.jsonl").read_text().splitlines()]
    assert [r["conversations"][0]["value"] for r in pretrain] == ["<speech>"] * 7
    assert all(r["conversations"][0]["value"] == asr_prompt() for r in train + heldout)
    assert all(set(r["conversations"][1]["value"].split()) <= vocabulary for r in train)
    real = {r["id"]: r["answer"] for r in heldout if r["split"] == "real"}
    assert real["real-cards-005"] == "eight of spades four of clubs seven of hearts"
    assert real["real-tidigits-2934z"] == "two nine three four zero"
    assert [r["split"] for r in heldout].count("unseen_voices") == 3
    for row in train[:2] + heldout[-2:]:  # every clip decodes: speech of a plausible length
        seconds = load_audio(tmp_path / row["speech"]).numel() / 16000
        assert 0.5 < seconds < 12, (row["id"], seconds)
