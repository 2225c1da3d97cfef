"""The library talks through return values and exceptions; only the CLI package prints and exits.

An AST walk over moka_train/ (moka_train/cli/ excepted) finds no ``print(`` call and no
``SystemExit`` / ``sys.exit`` / ``exit()`` / ``quit()`` and no ``sys.stdout`` / ``sys.stderr``: a library
function that printed or ended the process could not be reused by a server, a notebook or a test.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "moka_train"
CLI = PACKAGE / "cli"
EXITING_CALLS = {"print", "exit", "quit"}
SYS_STREAMS_AND_EXIT = {"exit", "stdout", "stderr"}


def _exiting_name(node: ast.AST) -> str | None:
    """The offending name a node uses: a bare print/exit/quit call, sys.exit, sys.stdout/stderr, or
    SystemExit anywhere."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in EXITING_CALLS:
        return f"{node.func.id}()"
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sys":
        if node.attr in SYS_STREAMS_AND_EXIT:
            return f"sys.{node.attr}"
    if isinstance(node, ast.Name) and node.id == "SystemExit":
        return "SystemExit"
    if isinstance(node, ast.Attribute) and node.attr == "SystemExit":
        return "SystemExit"
    return None


def offences(source: str, name: str) -> list[str]:
    """``file:line name`` for each print / exit in one module's source."""
    found = sorted((node.lineno, what) for node in ast.walk(ast.parse(source)) if (what := _exiting_name(node)))
    return [f"{name}:{line} {what}" for line, what in found]


def test_library_neither_prints_nor_exits():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if CLI in path.parents:
            continue
        found += offences(path.read_text(), str(path.relative_to(PACKAGE.parent)))
    assert not found, "print/exit outside moka_train/cli/ (return or raise; the CLI prints):\n" + "\n".join(found)


def test_checker_sees_each_kind():
    source = (
        "import sys\n"
        "print('x')\n"
        "sys.exit(1)\n"
        "raise SystemExit(2)\n"
        "def f():\n"
        "    exit()\n"
        "try:\n"
        "    pass\n"
        "except builtins.SystemExit:\n"
        "    pass\n"
        "sys.stderr.write('x')\n"
        "console.print('fine')\n"  # a method named print (a console passed in by the CLI) is not the builtin
        "log.info('fine')\n"
    )
    assert offences(source, "m.py") == [
        "m.py:2 print()",
        "m.py:3 sys.exit",
        "m.py:4 SystemExit",
        "m.py:6 exit()",
        "m.py:9 SystemExit",
        "m.py:11 sys.stderr",
    ]
