from pathlib import Path

from moka_train.config.reference import config_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "config_reference.md"


def test_config_reference_is_in_sync_with_the_schema():
    text = config_reference()
    assert "`adapter.xattn_weight`" in text and "`stages[i].init_from`" in text
    assert DOC.read_text() == text, "regenerate with: python scripts/config_reference.py"


def test_every_key_has_a_one_line_meaning():
    """Issue 33: 63 keys had none (adapter.rank, data.max_length, train.stop_after, output_dir, ...)."""
    rows = [line.split(" | ") for line in config_reference().splitlines() if line.startswith("| `")]
    empty = [row[0] for row in rows if not row[3].strip(" |")]
    assert len(rows) > 100 and empty == [], f"keys without a meaning: {empty}"
    meanings = {row[0].strip("| `"): row[3] for row in rows}
    assert "rank" in meanings["adapter.rank"] and "data.overlength" in meanings["data.max_length"]
    assert all("\n" not in m for m in meanings.values())
