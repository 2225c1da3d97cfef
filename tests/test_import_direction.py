"""Imports point one way (DESIGN §2). A module importing against the direction fails here."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "moka_train"

LOW = {"utils", "config", "modality"}
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
    "testing": LOW | {"testing", "adapters", "encoders", "projectors", "data", "model"},
    "serve": LOW | {"serve", "eval"},  # the HTTP server: answers through eval.generate
    "integrations": LOW | {"integrations", "serve", "eval", "data"},  # lmms-eval plugin and its tasks
    "cli": None,  # the top: may import anything
    "__init__": set(),
}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_layers(path: Path, package: Path = PACKAGE) -> set[str]:
    tree = ast.parse(path.read_text())
    package_parts = path.relative_to(package.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package_parts[: len(package_parts) - node.level + 1]
                names = [".".join(base + ((node.module,) if node.module else ()))]
                if not node.module:
                    names = [".".join(base + (a.name,)) for a in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "moka_train" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_imports_point_one_way():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(path)
        allowed = ALLOWED.get(layer, set())
        if allowed is None:
            continue
        bad = _imported_layers(path) - allowed - {layer}
        if bad:
            violations.append(f"{path.relative_to(PACKAGE.parent)} ({layer}) imports {sorted(bad)}")
    assert not violations, "imports against DESIGN §2:\n" + "\n".join(violations)


def test_checker_sees_a_violation(tmp_path):
    # the checker must catch a relative import that climbs into a forbidden layer
    (tmp_path / "moka_train" / "adapters").mkdir(parents=True)
    bad = tmp_path / "moka_train" / "adapters" / "probe.py"
    bad.write_text("from ..model import build\nimport moka_train.data.records\n")
    assert _imported_layers(bad, tmp_path / "moka_train") == {"model", "data"}
