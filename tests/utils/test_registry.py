"""One registry pattern for adapter methods, encoders and projectors: a name builds the right
class, and an unknown name is an error naming the config key, the bad name and the choices."""

import pytest

from moka_train.adapters import AdapterLinear, available_methods, get_method
from moka_train.config.sections.model import EncoderConfig, ProjectorConfig
from moka_train.encoders import build_encoder
from moka_train.encoders.beats import BeatsEncoder
from moka_train.encoders.clip import HFClipEncoder, OpenClipEncoder
from moka_train.encoders.whisper import WhisperEncoder
from moka_train.projectors import build_projector
from moka_train.projectors.mlp import MLPProjector
from moka_train.projectors.qformer import QFormerProjector
from moka_train.testing.encoders import (
    make_tiny_beats,
    make_tiny_hf_clip,
    make_tiny_open_clip,
    make_tiny_whisper,
)
from moka_train.utils.registry import Registry


def test_unknown_name_names_the_key_the_name_and_every_choice():
    shapes = Registry("shape", key="model.shape")
    shapes.register("square")(object)
    shapes.register("circle")(object)
    with pytest.raises(ValueError, match=r"^model.shape: unknown shape 'sqare'; choose one of: circle, square$"):
        shapes.get("sqare")
    with pytest.raises(ValueError, match=r"^model.shapes\[2\]: unknown shape"):  # the caller's own location
        shapes.get("sqare", key="model.shapes[2]")


def test_a_name_is_registered_once():
    shapes = Registry("shape", key="model.shape")
    shapes.register("square")(int)
    with pytest.raises(ValueError, match="shape 'square' registered twice"):
        shapes.register("square")(float)
    assert shapes.get("square") is int


def test_the_table_is_loaded_on_first_lookup_and_a_failed_load_is_retried():
    calls = []

    def load():
        calls.append(1)
        if len(calls) == 1:
            raise ImportError("first try")
        shapes.register("square")(int)

    shapes = Registry("shape", key="model.shape", load=load)
    assert calls == []  # creating the registry imports nothing
    with pytest.raises(ImportError):
        shapes.names()
    assert shapes.names() == ["square"] and shapes.get("square") is int
    assert len(calls) == 2  # loaded once it succeeded


def test_every_adapter_method_name_gives_its_own_layer_class():
    names = available_methods()
    assert {"lora", "moka", "wander"} <= set(names)
    for name in names:
        cls = get_method(name)
        assert issubclass(cls, AdapterLinear) and cls.method_name == name
    assert len({get_method(n) for n in names}) == len(names)


def test_unknown_adapter_method_names_the_key_and_choices():
    with pytest.raises(ValueError, match=r"^adapter.method: unknown adapter method 'mokka'; choose one of: .*\bmoka\b"):
        get_method("mokka")


@pytest.mark.parametrize(
    "kind,cls",
    [
        ("clip_hf", HFClipEncoder),
        ("clip_open_clip", OpenClipEncoder),
        ("beats", BeatsEncoder),
        ("whisper", WhisperEncoder),
    ],
)
def test_encoder_type_builds_its_class(tmp_path, kind, cls):
    path = {
        "clip_hf": lambda: make_tiny_hf_clip(tmp_path / "clip"),
        "clip_open_clip": lambda: make_tiny_open_clip(tmp_path / "open_clip"),
        "beats": lambda: make_tiny_beats(tmp_path / "beats.pt"),
        "whisper": lambda: make_tiny_whisper(tmp_path / "whisper.pt"),
    }[kind]()
    encoder = build_encoder(EncoderConfig(type=kind, path=str(path)))
    assert type(encoder) is cls


def test_unknown_encoder_type_names_the_key_and_choices():
    cfg = EncoderConfig.model_construct(type="clap", path="x", frozen=True)  # the schema would refuse it first
    message = (
        r"^model.modalities\[1\].encoder.type: unknown encoder 'clap'; "
        r"choose one of: beats, clip_hf, clip_open_clip, whisper$"
    )
    with pytest.raises(ValueError, match=message):
        build_encoder(cfg, key="model.modalities[1].encoder")


def test_native_vision_type_is_no_standalone_encoder():
    cfg = EncoderConfig(type="qwen2_5_vl_vision", path="unused")
    with pytest.raises(ValueError, match=r"^model.modalities\[0\].encoder.type qwen2_5_vl_vision is the vision tower"):
        build_encoder(cfg, key="model.modalities[0].encoder")


@pytest.mark.parametrize("kind,cls", [("mlp", MLPProjector), ("qformer", QFormerProjector)])
def test_projector_type_builds_its_class(kind, cls):
    cfg = ProjectorConfig(type=kind, num_queries=2, num_layers=1, hidden_size=16, num_heads=2)  # tiny Q-Former
    assert type(build_projector(cfg, in_dim=8, out_dim=12)) is cls


def test_unknown_projector_type_names_the_key_and_choices():
    cfg = ProjectorConfig.model_construct(type="resampler")
    with pytest.raises(
        ValueError,
        match=r"^model.modalities\[0\].projector.type: unknown projector 'resampler'; choose one of: mlp, qformer$",
    ):
        build_projector(cfg, in_dim=8, out_dim=12, key="model.modalities[0].projector")
