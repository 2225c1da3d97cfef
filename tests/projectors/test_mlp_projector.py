"""MLP projector and the projector registry."""

import pytest
import torch
from torch import nn

from moka_train.config.sections.model import ProjectorConfig
from moka_train.projectors import WidthMismatchError, build_projector


def test_mlp_maps_each_token_with_linear_gelu_linear():
    torch.manual_seed(0)
    projector = build_projector(ProjectorConfig(type="mlp"), in_dim=8, out_dim=12)
    features = torch.randn(2, 3, 5, 8)  # [B, F, L, D]
    first, second = [m for m in projector.modules() if isinstance(m, nn.Linear)]
    expected = second(nn.functional.gelu(first(features))).reshape(2, 15, 12)  # frames in order
    out = projector(features)
    torch.testing.assert_close(out, expected)
    assert out.shape[1] == ProjectorConfig(type="mlp").output_tokens(frames=3, encoder_tokens=5)


def test_mlp_image_features_are_one_frame():
    projector = build_projector(ProjectorConfig(type="mlp"), in_dim=8, out_dim=12)
    features = torch.randn(2, 5, 8)
    torch.testing.assert_close(projector(features), projector(features.unsqueeze(1)))


def test_mlp_width_mismatch_names_both_widths():
    projector = build_projector(ProjectorConfig(type="mlp"), in_dim=8, out_dim=12)
    with pytest.raises(WidthMismatchError, match="expected width 8, got 6"):
        projector(torch.randn(1, 4, 6))


def test_token_counts_for_the_paper_configuration():
    qformer = ProjectorConfig()  # 32 queries per frame/segment
    assert qformer.output_tokens(frames=10, encoder_tokens=None) == 320  # 10 video frames or 10 audio segments
    assert qformer.output_tokens(frames=1, encoder_tokens=None) == 32  # one image
    assert ProjectorConfig(per_frame=False).output_tokens(frames=10, encoder_tokens=None) == 32
    assert ProjectorConfig(type="mlp").output_tokens(frames=1, encoder_tokens=256) == 256


def test_mlp_token_count_needs_encoder_tokens():
    with pytest.raises(ValueError, match="one token per encoder token: set encoder.tokens"):
        ProjectorConfig(type="mlp").output_tokens(frames=2, encoder_tokens=None)
