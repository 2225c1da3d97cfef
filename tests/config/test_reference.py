from pathlib import Path

from moka_train.config.reference import config_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "config_reference.md"


def test_config_reference_is_in_sync_with_the_schema():
    text = config_reference()
    assert "`adapter.xattn_weight`" in text and "`stages[i].init_from`" in text
    assert DOC.read_text() == text, "regenerate with: python scripts/config_reference.py"
