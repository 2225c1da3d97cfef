"""`make install` installs constraints.txt: every package it names is installed at exactly that version."""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"


def pinned() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"constraints.txt: {line!r} is not one exact pin"
        if req.marker is None or req.marker.evaluate():
            pins[req.name] = specs[0].version
    return pins


def test_installed_versions_equal_the_constraints():
    pins = pinned()
    assert {"torch", "transformers", "deepspeed", "lmms-eval", "fastapi", "openai", "ruff"} <= set(pins)
    wrong = {}
    for name, want in pins.items():
        try:
            have = version(name)
        except PackageNotFoundError:
            have = "not installed"
        if have != want:
            wrong[name] = f"installed {have}, constraints.txt {want}"
    assert not wrong, f"installed versions differ from constraints.txt (run `make install`): {wrong}"
