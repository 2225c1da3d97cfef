"""Imports point one way (DESIGN §2). A module importing against the direction fails here, and so
do two modules that import each other round a circle (function-level imports included).

Inside the package, each layer imports only the layers listed in ``ALLOWED``; nothing imports the
CLI. Around it, ``scripts/*.py`` and ``data_prep/*.py`` are leaves: the library imports neither
them nor ``tests`` (by package or by a script's module name) and never edits ``sys.path``; a
script imports no other script, no data_prep module and nothing of ``tests``; data_prep modules
(a small library of converters that import each other) import no script and nothing of
``tests``; no test imports a script or puts ``scripts/`` on ``sys.path`` (scripts are run).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "moka_train"

LOW = {"utils", "config", "modality"}
TESTING = LOW | {"testing", "adapters", "encoders", "projectors", "data", "model"}
ALLOWED = {
    "utils": {"utils"},
    "config": {"utils", "config"},
    "modality": LOW,
    "adapters": {"adapters", "modality", "utils"},  # torch-only core: no config, data or model
    "data": LOW | {"data"},
    "encoders": LOW | {"encoders"},
    "projectors": LOW | {"projectors"},
    "model": LOW | {"model", "adapters", "encoders", "projectors"},
    "train": LOW | {"train", "model", "data", "adapters", "encoders", "projectors", "eval"},
    "eval": LOW | {"eval", "model", "data", "adapters", "encoders", "projectors"},
    "testing": TESTING,
    # benchmark machinery: tiny models and oracles from testing; train for the trainer's own step
    "bench": TESTING | {"bench", "train"},
    "serve": LOW | {"serve", "eval", "data"},  # the HTTP server: samples built in memory (data), answered by eval
    "integrations": LOW | {"integrations", "serve", "eval", "data"},  # lmms-eval plugin and its tasks
    "cli": None,  # the top: may import anything
    "__init__": set(),
}
OUTSIDE_PACKAGES = {"scripts", "data_prep", "tests"}  # never imported as packages


def _layer(path: Path, package: Path = PACKAGE) -> str:
    rel = path.relative_to(package)
    return rel.parts[0].removesuffix(".py")


def _imported_names(path: Path, package: Path = PACKAGE) -> set[str]:
    """Every dotted name an import statement reaches, relative imports resolved against this
    module's package (``from moka_train import cli`` gives ``moka_train.cli``)."""
    tree = ast.parse(path.read_text())
    package_parts = path.relative_to(package.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = ".".join(
                    package_parts[: len(package_parts) - node.level + 1] + ((node.module,) if node.module else ())
                )
            else:
                base = node.module or ""
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def _imported_layers(path: Path, package: Path = PACKAGE) -> set[str]:
    parts = (name.split(".") for name in _imported_names(path, package))
    return {p[1] for p in parts if p[0] == "moka_train" and len(p) > 1}


def _top_level_imports(path: Path) -> set[str]:
    """First components of the absolute imports (what ``sys.path`` resolves: a script's name)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def _sys_path_edits(path: Path) -> list[str]:
    """Source of every statement that changes ``sys.path`` (insert/append/extend/assignment)."""
    source = path.read_text()
    edits = []
    for node in ast.walk(ast.parse(source)):
        target = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value if node.func.attr in {"insert", "append", "extend"} else None
        elif isinstance(node, ast.Assign | ast.AugAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        if isinstance(target, ast.Attribute) and target.attr == "path":
            if isinstance(target.value, ast.Name) and target.value.id == "sys":
                edits.append(ast.get_source_segment(source, node))
    return edits


def _loads_files_as_modules(path: Path) -> bool:
    """``importlib.util.spec_from_file_location``: how a test would load a script as a module."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr == "spec_from_file_location":
            return True
        if (
            isinstance(node, ast.Name | ast.alias)
            and getattr(node, "id", getattr(node, "name", "")) == "spec_from_file_location"
        ):
            return True
    return False


def _module_names(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.py")}


def _package_violations(root: Path) -> list[str]:
    package = root / "moka_train"
    violations = []
    for path in sorted(package.rglob("*.py")):
        layer = _layer(path, package)
        allowed = ALLOWED.get(layer, set())
        if allowed is None:
            continue
        bad = _imported_layers(path, package) - allowed - {layer}
        if bad:
            violations.append(f"{path.relative_to(root)} ({layer}) imports {sorted(bad)}")
    return violations


def _leaf_violations(root: Path) -> list[str]:
    scripts, data_prep = _module_names(root / "scripts"), _module_names(root / "data_prep")
    violations = []

    def check(path: Path, forbidden: set[str], what: str) -> None:
        bad = _top_level_imports(path) & forbidden
        if bad:
            violations.append(f"{path.relative_to(root)} ({what}) imports {sorted(bad)}")

    for path in sorted((root / "moka_train").rglob("*.py")):
        check(path, OUTSIDE_PACKAGES | scripts | data_prep, "library")
        violations.extend(f"{path.relative_to(root)} (library) edits sys.path: {e}" for e in _sys_path_edits(path))
    for path in sorted((root / "scripts").glob("*.py")):
        check(path, OUTSIDE_PACKAGES | data_prep | scripts - {path.stem}, "script")
        edits = [e for e in _sys_path_edits(path) if "tests" in e or "data_prep" in e]
        violations.extend(
            f"{path.relative_to(root)} (script) puts tests/ or data_prep/ on sys.path: {e}" for e in edits
        )
    for path in sorted((root / "data_prep").glob("*.py")):
        check(path, {"scripts", "tests"} | scripts, "data_prep")
    for path in sorted((root / "tests").rglob("*.py")):
        check(path, {"scripts"} | scripts, "test")
        edits = [e for e in _sys_path_edits(path) if "scripts" in e.lower()]
        violations.extend(f"{path.relative_to(root)} (test) puts scripts/ on sys.path: {e}" for e in edits)
        if _loads_files_as_modules(path):
            violations.append(f"{path.relative_to(root)} (test) loads a file as a module (run a script instead)")
    return violations


def _package_modules(package: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of the package (a package by its ``__init__.py``)."""
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _module_of(name: str, modules: dict[str, Path]) -> str | None:
    """The module an imported name lands in: its longest dotted prefix that is a module
    (``moka_train.model.build.DTYPES`` -> ``moka_train.model.build``)."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts) or None


def _import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere in its body (function-level imports too)."""
    modules = _package_modules(package)
    graph = {}
    for name, path in modules.items():
        targets = {_module_of(n, modules) for n in _imported_names(path, package)}
        graph[name] = targets - {None, name}
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _import_cycles(package: Path) -> list[str]:
    """Every group of modules that import each other round a circle (a strongly connected
    component of the import graph), one line each."""
    graph = _import_graph(package)
    reach = {m: _reachable(graph, m) for m in graph}
    groups = {tuple(sorted(n for n in reach[m] if m in reach[n])) for m in graph if m in reach[m]}
    return sorted(" <-> ".join(group) for group in groups)


def test_imports_point_one_way():
    violations = _package_violations(ROOT)
    assert not violations, "imports against DESIGN §2:\n" + "\n".join(violations)


def test_no_import_cycle_between_modules():
    cycles = _import_cycles(PACKAGE)
    assert not cycles, "modules importing each other (function-level imports count):\n" + "\n".join(cycles)


def test_checker_sees_an_import_cycle_through_a_function_level_import(tmp_path):
    files = {
        "__init__.py": "",
        "model/__init__.py": "",
        "model/build.py": "from .parts import DTYPES\n\ndef build():\n    from .vision import hook\n",
        "model/vision.py": "def hook():\n    from moka_train.model.build import DTYPES\n",
        "model/parts.py": "import torch\nDTYPES = {}\n",  # imported one way only: no cycle
        "cli/__init__.py": "from . import evaluate\n",
        "cli/evaluate.py": "def main():\n    from . import build_parser\n",  # back into its package
    }
    for rel, text in files.items():
        (tmp_path / "moka_train" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "moka_train" / rel).write_text(text)
    assert _import_cycles(tmp_path / "moka_train") == [
        "moka_train.cli <-> moka_train.cli.evaluate",
        "moka_train.model.build <-> moka_train.model.vision",
    ]


def test_scripts_and_data_prep_are_leaves():
    violations = _leaf_violations(ROOT)
    assert not violations, "imports against DESIGN §2 (scripts/ and data_prep/ are leaves):\n" + "\n".join(violations)


def test_checker_sees_a_violation(tmp_path):
    # the checker must catch a relative import that climbs into a forbidden layer
    (tmp_path / "moka_train" / "adapters").mkdir(parents=True)
    bad = tmp_path / "moka_train" / "adapters" / "probe.py"
    bad.write_text("from ..model import build\nimport moka_train.data.records\n")
    assert _imported_layers(bad, tmp_path / "moka_train") == {"model", "data"}


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A repository with one script (bench_gpu), one data_prep module (common) and ``files``."""
    base = {"scripts/bench_gpu.py": "", "data_prep/common.py": "", "moka_train/__init__.py": "", "tests/t.py": ""}
    for rel, text in {**base, **files}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_checker_sees_the_library_importing_the_cli(tmp_path):
    root = _tree(
        tmp_path,
        {"moka_train/eval/a.py": "from moka_train import cli\n", "moka_train/bench/b.py": "from ..cli import main\n"},
    )
    assert _package_violations(root) == [
        "moka_train/bench/b.py (bench) imports ['cli']",
        "moka_train/eval/a.py (eval) imports ['cli']",
    ]


def test_checker_sees_the_library_importing_a_script_tests_or_data_prep(tmp_path):
    files = {
        "moka_train/bench/a.py": "import bench_gpu\nfrom tests.reference import x\n",
        "moka_train/data/b.py": "from common import read_json\nimport data_prep.common\n",
        "moka_train/cli/c.py": "from scripts import bench_gpu\n",  # the CLI is library code too
    }
    assert _leaf_violations(_tree(tmp_path, files)) == [
        "moka_train/bench/a.py (library) imports ['bench_gpu', 'tests']",
        "moka_train/cli/c.py (library) imports ['scripts']",
        "moka_train/data/b.py (library) imports ['common', 'data_prep']",
    ]


def test_checker_sees_the_library_editing_sys_path(tmp_path):
    root = _tree(tmp_path, {"moka_train/bench/a.py": "import sys\nsys.path.insert(0, 'scripts')\n"})
    assert _leaf_violations(root) == ["moka_train/bench/a.py (library) edits sys.path: sys.path.insert(0, 'scripts')"]


def test_checker_sees_a_script_importing_a_script_tests_or_data_prep(tmp_path):
    files = {
        "scripts/bench_train.py": "from bench_gpu import train_rows\nimport common\nfrom moka_train.cli import main\n",
        "scripts/bench_adapters.py": "from tests.reference import oracle\n",
        "scripts/bench_generate.py": "import sys\nsys.path.insert(0, str(ROOT / 'tests'))\n",
    }
    assert _leaf_violations(_tree(tmp_path, files)) == [
        "scripts/bench_adapters.py (script) imports ['tests']",
        "scripts/bench_generate.py (script) puts tests/ or data_prep/ on sys.path: "
        "sys.path.insert(0, str(ROOT / 'tests'))",
        "scripts/bench_train.py (script) imports ['bench_gpu', 'common']",  # moka_train.cli is fine
    ]


def test_checker_lets_data_prep_import_data_prep_but_not_scripts_or_tests(tmp_path):
    files = {"data_prep/convert.py": "from common import cli\nimport moka_train.eval\nimport bench_gpu\nimport tests\n"}
    assert _leaf_violations(_tree(tmp_path, files)) == [
        "data_prep/convert.py (data_prep) imports ['bench_gpu', 'tests']"
    ]


def test_checker_sees_a_test_loading_a_script(tmp_path):
    files = {
        "tests/scripts/test_x.py": "import sys\nsys.path.insert(0, str(SCRIPTS))\nfrom bench_gpu import main\n",
        "tests/scripts/test_y.py": "import importlib.util\nspec = importlib.util.spec_from_file_location('m', P)\n",
    }
    assert _leaf_violations(_tree(tmp_path, files)) == [
        "tests/scripts/test_x.py (test) imports ['bench_gpu']",
        "tests/scripts/test_x.py (test) puts scripts/ on sys.path: sys.path.insert(0, str(SCRIPTS))",
        "tests/scripts/test_y.py (test) loads a file as a module (run a script instead)",
    ]
