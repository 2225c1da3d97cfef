"""config/backbones.py is the one table of what a backbone can do: the config's choices are its
names, and every place that differs by backbone reads it (no backbone or encoder-type strings)."""

import re
import typing
from pathlib import Path

import pytest

from moka_train.config.backbones import BACKBONES, NATIVE_VISION_TYPES, backbone
from moka_train.config.sections.model import EncoderConfig, ModelConfig

ROOT = Path(__file__).resolve().parents[2]


def test_the_configs_choices_are_the_tables():
    assert set(typing.get_args(ModelConfig.model_fields["backbone"].annotation)) == set(BACKBONES)
    assert NATIVE_VISION_TYPES <= set(typing.get_args(EncoderConfig.model_fields["type"].annotation))
    with pytest.raises(
        ValueError, match="model.backbone: unknown backbone 'llava'; choose one of causal_lm, qwen2_5_vl"
    ):
        backbone("llava")


def test_no_module_tests_a_backbone_or_native_encoder_string_of_its_own():
    """Outside the table and the config schema's declarations, a backbone's name or its vision
    path's encoder type appears in no comparison (``==``, ``!=``, ``in``) of the model, the
    config checks, the memory plan or the test helpers."""
    names = "|".join(re.escape(n) for n in [*BACKBONES, *NATIVE_VISION_TYPES])
    compared = re.compile(rf"""(==|!=|\bin)\s*\(?["']({names})["']|["']({names})["']\s*(==|!=)""")
    files = [*sorted((ROOT / "moka_train" / "model").glob("*.py")), ROOT / "moka_train/config/sections/model.py"]
    files += [ROOT / "moka_train/train/memory_plan.py", ROOT / "moka_train/testing/vlm.py"]
    found = [f"{p.relative_to(ROOT)}: {line.strip()}" for p in files for line in p.read_text().splitlines()]
    assert [line for line in found if compared.search(line)] == []
