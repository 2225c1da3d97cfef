"""docs/fidelity.md is the recipes' fidelity table: every row that names a recipe key states the
value the paper recipes resolve to. This test resolves each recipe a table's ``Recipes:`` line
names (with placeholder roots, as ``moka-train validate`` would) and fails, naming the doc line,
the recipe and both values, when a recipe drifts from its row."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from moka_train.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "fidelity.md"
CONFIGS = ROOT / "configs"
ROOTS = {name: f"/{name}" for name in ("MODEL_ROOT", "DATA_ROOT", "DEMO_ROOT", "PRETRAIN_EXPORT")}
NOT_QWEN25VL = "¹"  # a row of the CLIP + Q-Former recipes: not *_qwen25vl (Qwen2.5-VL's own vision path)
_CODE = re.compile(r"^`([^`]+)`$")
_STEP = re.compile(r"^([A-Za-z_][\w]*)(?:\[([^\]]+)\])?$")


@dataclass(frozen=True)
class Row:
    line: int
    section: str
    recipes: tuple[str, ...]  # globs
    setting: str
    key: str
    value: object


def parse_table(text: str) -> list[Row]:
    """Rows with a recipe key (``key`` and ``value`` cells in backticks); ``–`` keys are prose."""
    rows, section, recipes = [], "", ()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## "):
            section, recipes = line[3:].strip(), ()
        elif line.startswith("Recipes:"):
            recipes = tuple(re.findall(r"`([^`]+)`", line))
        elif line.startswith("|") and not set(line) <= set("|-: "):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            key, value = _CODE.match(cells[2]), _CODE.match(cells[3]) if len(cells) > 3 else None
            if cells[0] == "setting" or key is None:
                continue
            if value is None or not recipes:
                raise AssertionError(f"{DOC}:{lineno}: a keyed row needs a `value` cell and a Recipes: line above")
            rows.append(Row(lineno, section, recipes, cells[0], key.group(1), _literal(value.group(1))))
    return rows


def _literal(text: str) -> object:
    for name, value in ROOTS.items():
        text = text.replace("${" + name + "}", value)
    return yaml.safe_load(text)


def lookup(resolved: dict, key: str) -> object:
    """``stages[finetune].optim.lr``: dotted keys; ``[name]`` picks a list entry by its name."""
    node = resolved
    for part in key.split("."):
        step = _STEP.match(part)
        if step is None or not isinstance(node, dict) or step.group(1) not in node:
            raise KeyError(f"{key}: no {part!r} here")
        node = node[step.group(1)]
        if step.group(2) is not None:
            named = [x for x in node if isinstance(x, dict) and x.get("name") == step.group(2)]
            if len(named) != 1:
                raise KeyError(f"{key}: no single entry named {step.group(2)!r}")
            node = named[0]
    return node


def recipes_of(row: Row) -> list[Path]:
    paths = sorted(p for p in CONFIGS.glob("*.yaml") if any(fnmatch.fnmatch(p.name, g) for g in row.recipes))
    return [p for p in paths if not (NOT_QWEN25VL in row.setting and p.stem.endswith("_qwen25vl"))]


def drift(rows: list[Row], resolve) -> list[str]:
    """Every (row, recipe) whose resolved value differs from the row's, as readable lines."""
    problems = []
    for row in rows:
        for path in recipes_of(row):
            try:
                found = lookup(resolve(path), row.key)
            except KeyError as err:
                problems.append(f"{DOC.name}:{row.line} {path.name}: {err}")
                continue
            if found != row.value:
                problems.append(
                    f"{DOC.name}:{row.line} {path.name}: {row.key} = {found!r}, the table says {row.value!r}"
                )
    return problems


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    """Resolved configs by path, loaded once, with placeholder roots (paths compare as text)."""
    cache: dict[Path, dict] = {}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in ROOTS.items():
            mp.setenv(name, value)

        def resolve(path: Path) -> dict:
            if path not in cache:
                cache[path] = load_config(path).model_dump(mode="json")
            return cache[path]

        yield resolve


def test_the_table_covers_every_scenario_and_each_recipe_glob_matches():
    rows = parse_table(DOC.read_text(encoding="utf-8"))
    sections = {row.section for row in rows}
    for scenario in ("MUSIC-AVQA", "AVE", "Visual-text", "Stage 1"):
        assert any(s.startswith(scenario) for s in sections), f"no keyed rows under a '{scenario}' heading"
    assert len(rows) >= 60
    for row in rows:
        assert recipes_of(row), f"{DOC}:{row.line}: Recipes {row.recipes} match no configs/*.yaml"


def test_every_paper_recipe_resolves_to_its_rows(resolved):
    problems = drift(parse_table(DOC.read_text(encoding="utf-8")), resolved)
    assert not problems, "recipes drifted from docs/fidelity.md (fix the recipe or the table):\n" + "\n".join(problems)


def test_a_changed_recipe_value_is_caught(resolved, monkeypatch):
    """The check bites: one override of a tabled key is reported with the line, recipe and values."""
    rows = [r for r in parse_table(DOC.read_text(encoding="utf-8")) if r.key == "adapter.xattn_weight"]
    assert rows
    for name, value in ROOTS.items():
        monkeypatch.setenv(name, value)
    changed = {}

    def resolve(path: Path) -> dict:
        if path not in changed:
            changed[path] = load_config(path, ["adapter.xattn_weight=0.5"]).model_dump(mode="json")
        return changed[path]

    problems = drift(rows[:1], resolve)
    assert problems and all("adapter.xattn_weight = 0.5, the table says" in p for p in problems)
    assert not drift(rows[:1], resolved)
