"""Config loading is bounded (issue 32 item 7): a YAML alias bomb ("billion laughs") is refused
with a ConfigError naming the file before anything copies it (was: `validate` grew past 1.25 GB
while ${VAR} interpolation copied every expanded alias), under an RLIMIT_AS cap; so are recursive
aliases, interpolation that produces too much text and nesting deeper than the parser takes."""

import subprocess
import sys

import pytest

from moka_train.cli import main
from moka_train.config import ConfigError, load_config

LOAD_UNDER_CAP = """
import resource, sys
from moka_train.config import ConfigError, load_config
size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + 512 * 2**20, size + 512 * 2**20))
try:
    load_config(sys.argv[1])
except ConfigError as err:
    print("ConfigError", err)
    sys.exit(2)
"""


def laughs(levels: int = 9) -> str:
    """Each level holds ten aliases of the previous one: 10**levels strings once expanded."""
    lines = ['output_dir: "/tmp/x"', 'l0: &l0 "${HOME}lol"']
    for k in range(1, levels + 1):
        lines.append(f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_under_a_memory_cap(tmp_path):
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(laughs())
    done = subprocess.run(
        [sys.executable, "-c", LOAD_UNDER_CAP, str(bomb)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"{bomb}: expands to more than 100000 values" in done.stdout


def test_validate_exits_2_naming_the_file(tmp_path, capsys):
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(laughs(levels=6))  # 10**6 strings: small enough to run uncapped on the old code
    assert main(["validate", "--config", str(bomb)]) == 2
    assert f"error: {bomb}: expands to more than 100000 values" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: &a [1, *a]\n", "cannot be recursive"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
)
def test_recursive_and_deep_yaml_are_named(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_interpolation_output_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setenv("BIG", "x" * 1_000_000)
    path = tmp_path / "c.yaml"
    path.write_text("output_dir: /tmp/x\nnotes: [" + ", ".join(['"${BIG}"'] * 20) + "]\n")
    with pytest.raises(ConfigError, match="exceed 10000000 characters once interpolated"):
        load_config(path)
