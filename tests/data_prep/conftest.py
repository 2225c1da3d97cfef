"""The converters are scripts in data_prep/ that import ``common`` as a sibling: put that folder on
the path. ``convert`` runs one converter's CLI and returns (exit status, report line, written rows,
stderr)."""

import json
import sys
from pathlib import Path

import pytest

DATA_PREP = Path(__file__).resolve().parents[2] / "data_prep"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
if str(DATA_PREP) not in sys.path:
    sys.path.insert(0, str(DATA_PREP))


def run_converter(module, args: list[str], output: Path, capsys) -> tuple[int, dict | None, list[dict], str]:
    status = module.main([*map(str, args), "--output", str(output)])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    report = json.loads(lines[-1]) if lines else None
    if report is not None:
        assert len(lines) == 1, f"a converter prints ONE report line, got {lines}"
    rows = [json.loads(x) for x in output.read_text().splitlines()] if output.is_file() else []
    return status, report, rows, captured.err


@pytest.fixture
def convert(tmp_path, capsys):
    def _run(module, *args):
        return run_converter(module, list(args), tmp_path / "out.jsonl", capsys)

    return _run
