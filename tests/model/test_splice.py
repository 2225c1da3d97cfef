import pytest
import torch

from moka_train.model.splice import SpliceError, splice_features


def test_features_land_at_their_positions_by_index():
    embeds = torch.zeros(2, 8, 3)
    mod = torch.tensor([[0, 2, 2, 0, 3, 3, 0, 0], [0, 0, 0, 2, 2, 0, 0, -1]])
    video = torch.arange(2 * 2 * 3, dtype=torch.float).view(2, 2, 3) + 1  # 2 items x 2 tokens
    audio = -torch.ones(1, 2, 3)  # only row 0 has audio
    out = splice_features(splice_features(embeds, mod, 2, video), mod, 3, audio)
    assert torch.equal(out[0, 1], video[0, 0]) and torch.equal(out[0, 2], video[0, 1])
    assert torch.equal(out[1, 3], video[1, 0]) and torch.equal(out[1, 4], video[1, 1])
    assert torch.equal(out[0, 4:6], audio[0])
    assert out[mod < 2].abs().sum() == 0  # text untouched


def test_count_mismatch_names_both_counts_and_samples():
    mod = torch.tensor([[0, 2, 2, 2]])
    with pytest.raises(SpliceError, match=r"video: 3 placeholder tokens.*but 4 feature tokens.*\['s7'\]"):
        splice_features(torch.zeros(1, 4, 3), mod, 2, torch.zeros(2, 2, 3), name="video", sample_ids=["s7"])


def test_width_mismatch_names_both_widths():
    with pytest.raises(SpliceError, match="projector width 5 != LLM width 3"):
        splice_features(torch.zeros(1, 2, 3), torch.tensor([[2, 2]]), 2, torch.zeros(1, 2, 5))
