"""Q-Former projector: token counts, per-frame independence, paper-config parameter count."""

import pytest
import torch

from moka_train.config.sections.model import ProjectorConfig
from moka_train.projectors import WidthMismatchError, build_projector

TINY = dict(type="qformer", num_queries=3, num_layers=2, hidden_size=32, num_heads=4)


def _projector(per_frame=True, in_dim=16, out_dim=24, seed=0):
    torch.manual_seed(seed)
    return build_projector(ProjectorConfig(**TINY, per_frame=per_frame), in_dim, out_dim).eval()


def _features(shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_per_frame_output_is_frames_times_queries():
    projector = _projector()
    out = projector(_features((2, 4, 5, 16)))  # [B, F, L, D]
    assert out.shape == (2, 4 * 3, 24)
    assert out.shape[1] == ProjectorConfig(**TINY).output_tokens(frames=4, encoder_tokens=None)


def test_frames_are_projected_independently():
    projector = _projector()
    features = _features((2, 4, 5, 16))
    changed = features.clone()
    changed[:, 2] = _features((2, 5, 16), seed=1)  # only frame 2 (a constant shift would vanish in the LayerNorm)
    with torch.no_grad():
        before = projector(features).view(2, 4, 3, 24)  # [B, F, N, d]
        after = projector(changed).view(2, 4, 3, 24)
    torch.testing.assert_close(after[:, [0, 1, 3]], before[:, [0, 1, 3]], rtol=0, atol=1e-6)
    assert (after[:, 2] - before[:, 2]).norm(dim=-1).min() > 1e-3  # each of frame 2's tokens moved


def test_per_frame_equals_one_frame_at_a_time():
    projector = _projector()
    features = _features((2, 3, 5, 16))
    with torch.no_grad():
        together = projector(features)
        alone = torch.cat([projector(features[:, f]) for f in range(3)], dim=1)
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


def test_all_frames_mode_mixes_frames_into_n_queries():
    projector = _projector(per_frame=False)
    features = _features((2, 4, 5, 16))
    changed = features.clone()
    changed[:, 2] = _features((2, 5, 16), seed=1)
    with torch.no_grad():
        before, after = projector(features), projector(changed)
    assert before.shape == (2, 3, 24)
    assert before.shape[1] == ProjectorConfig(**TINY, per_frame=False).output_tokens(frames=4, encoder_tokens=None)
    assert (after - before).norm(dim=-1).min() > 1e-3  # every query token saw frame 2


def test_samples_are_independent():
    projector = _projector()
    features = _features((3, 2, 5, 16))
    changed = features.clone()
    changed[1] *= -1
    with torch.no_grad():
        before, after = projector(features), projector(changed)
    torch.testing.assert_close(after[[0, 2]], before[[0, 2]], rtol=0, atol=1e-6)


def test_width_mismatch_names_both_widths():
    with pytest.raises(WidthMismatchError, match="expected width 16, got 20"):
        _projector()(_features((1, 2, 5, 20)))


def test_queries_are_learnable_and_random():
    projector = _projector()
    assert projector.query_tokens.requires_grad and projector.query_tokens.shape == (1, 3, 32)
    assert projector.query_tokens.std() > 0


def test_paper_configuration_parameter_count():
    """BERT-base-width Q-Former, 2 layers, cross-attention in both, 32 queries, CLIP ViT-L (1024)
    features, LLaMA-2-7B width (4096). Counted by formula: a Q-Former without cross-attention in
    every layer, or with the unused text FFN, would not match."""
    h, e, d, n, layers = 768, 1024, 4096, 32, 2
    linear = lambda i, o: i * o + o  # noqa: E731
    norm = 2 * h
    self_attn = 4 * linear(h, h) + norm
    cross_attn = 2 * linear(h, h) + 2 * linear(e, h) + norm
    ffn = linear(h, 4 * h) + linear(4 * h, h) + norm
    expected = 2 * e + n * h + norm + layers * (self_attn + cross_attn + ffn) + linear(h, d) + linear(d, d)
    projector = build_projector(ProjectorConfig(), in_dim=e, out_dim=d)
    assert sum(p.numel() for p in projector.parameters()) == expected == 39_649_280
