"""CLIP encoders: patch tokens of the configured layer, loading round trips, preprocessing."""

import numpy as np
import pytest
import torch
from PIL import Image

from moka_train.config.sections.model import EncoderConfig
from moka_train.encoders import build_encoder
from moka_train.encoders.clip import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, ClipPreprocess
from moka_train.testing.encoders import (
    TINY_OPEN_CLIP_NAME,
    make_tiny_hf_clip,
    make_tiny_open_clip,
    tiny_hf_clip_model,
    tiny_open_clip_model,
)


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    return make_tiny_hf_clip(tmp_path_factory.mktemp("hf_clip"), seed=1)


@pytest.fixture(scope="module")
def open_clip_dir(tmp_path_factory):
    return make_tiny_open_clip(tmp_path_factory.mktemp("open_clip"), seed=2)


def _pixels(n=2, seed=0):
    return torch.randn(n, 3, 28, 28, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("layer", [-2, -1, 1])
def test_hf_clip_tokens_are_that_hidden_layer_without_cls(hf_dir, layer):
    encoder = build_encoder(EncoderConfig(type="clip_hf", path=str(hf_dir), layer=layer))
    reference = tiny_hf_clip_model(seed=1)  # the in-memory model that was saved
    pixels = _pixels()
    with torch.no_grad():
        expected = reference(pixel_values=pixels, output_hidden_states=True).hidden_states[layer][:, 1:]
        got = encoder(pixels)
    assert got.shape == (2, encoder.num_tokens(), encoder.output_dim) == (2, 4, 32)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_hf_clip_layer_choice_changes_features(hf_dir):
    pixels = _pixels()
    with torch.no_grad():
        penultimate = build_encoder(EncoderConfig(type="clip_hf", path=str(hf_dir)))(pixels)
        last = build_encoder(EncoderConfig(type="clip_hf", path=str(hf_dir), layer=-1))(pixels)
    assert not torch.allclose(penultimate, last)


def _open_clip_tokens_after_block(model, pixels, blocks):
    """Reference through open_clip's own forward: keep the first ``blocks`` blocks and ask the
    tower for its (ln_post-normalised) patch tokens."""
    visual = model.visual
    visual.transformer.resblocks = visual.transformer.resblocks[:blocks]
    visual.output_tokens = True
    _, tokens = visual(pixels)
    return tokens


def test_open_clip_round_trip_gives_penultimate_patch_tokens(open_clip_dir):
    encoder = build_encoder(EncoderConfig(type="clip_open_clip", path=str(open_clip_dir)))
    reference = tiny_open_clip_model(seed=2)
    pixels = _pixels()
    with torch.no_grad():
        expected = _open_clip_tokens_after_block(reference, pixels, blocks=2)  # 3 blocks: penultimate = 2nd
        got = encoder(pixels)
        normalised = encoder.visual.ln_post(got)  # the reference tokens carry the final norm
    assert got.shape == (2, 4, 32) and encoder.output_dim == 32 and encoder.num_tokens() == 4
    torch.testing.assert_close(normalised, expected, rtol=1e-5, atol=1e-5)


def test_open_clip_checkpoint_file_with_model_name_matches_directory(open_clip_dir):
    import open_clip

    open_clip.add_model_config(open_clip_dir / f"{TINY_OPEN_CLIP_NAME}.json")
    from_file = build_encoder(
        EncoderConfig(
            type="clip_open_clip",
            model_name=TINY_OPEN_CLIP_NAME,
            path=str(open_clip_dir / "open_clip_model.safetensors"),
        )
    )
    from_dir = build_encoder(EncoderConfig(type="clip_open_clip", path=str(open_clip_dir)))
    pixels = _pixels(seed=3)
    with torch.no_grad():
        torch.testing.assert_close(from_file(pixels), from_dir(pixels), rtol=0, atol=0)


def test_open_clip_file_without_model_name_is_refused(open_clip_dir):
    with pytest.raises(ValueError, match="model_name"):
        build_encoder(EncoderConfig(type="clip_open_clip", path=str(open_clip_dir / "open_clip_model.safetensors")))


def test_open_clip_directory_without_weights_is_refused(tmp_path, open_clip_dir):
    (tmp_path / "open_clip_config.json").write_text((open_clip_dir / "open_clip_config.json").read_text())
    with pytest.raises(RuntimeError, match="pretrained weights"):  # open_clip alone would only warn
        build_encoder(EncoderConfig(type="clip_open_clip", path=str(tmp_path)))


def test_preprocess_normalises_with_clip_statistics():
    colour = torch.tensor([200, 100, 30], dtype=torch.uint8)
    frames = colour.view(1, 1, 1, 3).expand(3, 50, 70, 3).contiguous()  # [N, H, W, 3] flat colour
    out = ClipPreprocess(size=28)(frames)
    expected = (colour.float() / 255 - torch.tensor(OPENAI_CLIP_MEAN)) / torch.tensor(OPENAI_CLIP_STD)
    assert out.shape == (3, 3, 28, 28)
    torch.testing.assert_close(out, expected.view(1, 3, 1, 1).expand_as(out), rtol=0, atol=1e-5)


def test_preprocess_centre_crops_the_longer_side():
    frames = torch.zeros(1, 28, 56, 3, dtype=torch.uint8)
    frames[:, :, 14:42] = 255  # the centre square is white, the side bands black
    out = ClipPreprocess(size=28, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))(frames)
    torch.testing.assert_close(out, torch.ones_like(out))


def test_preprocess_accepts_pil_and_numpy_like_tensors():
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (40, 60, 3), dtype=np.uint8) for _ in range(2)]
    prep = ClipPreprocess(size=28)
    from_pil = prep([Image.fromarray(a) for a in arrays])
    from_frames = prep(np.stack(arrays))  # same-size frames: one vectorised call
    assert from_pil.shape == (2, 3, 28, 28)
    torch.testing.assert_close(from_pil, from_frames)
    torch.testing.assert_close(prep(Image.fromarray(arrays[1])), from_frames[1:])


def test_encoder_preprocess_then_forward(hf_dir):
    encoder = build_encoder(EncoderConfig(type="clip_hf", path=str(hf_dir)))
    frames = torch.randint(0, 256, (5, 30, 40, 3), dtype=torch.uint8)
    with torch.no_grad():
        assert encoder(encoder.preprocess(frames)).shape == (5, 4, 32)
