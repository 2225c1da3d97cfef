"""The docs point at files that exist, and docs/design.md's package map names every module.

* Every ``moka_train/...`` path in docs/*.md and README.md exists, and so does every
  package-relative module path (``train/run.py``, ``data/question.py``): a moved or deleted
  module leaves no stale mention behind.
* The package map (the first code block of design.md §2) is read the way a newcomer reads it: a
  token ending in ``/`` at the start of a line opens that directory, bare ``*.py`` names on the
  line and its continuation lines are files in it (``{a,b}.py`` and ``*`` expand). Every name
  must exist, and every module of ``moka_train/`` (``__init__.py`` and ``__main__.py`` aside)
  must be named: a new module without a line in the map fails here.
* The two walks of design.md §2 (numbered lists under ``### Walk`` headings) start each step with
  the file to open, and every function or class a step names occurs in a file the step names.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "moka_train"
DESIGN = ROOT / "docs" / "design.md"
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

# the package's layers (tests/test_import_direction.py): a path starting with one of them and not
# preceded by another path component is package-relative ("train/run.py" is moka_train/train/run.py)
LAYERS = "adapters bench cli config data encoders eval integrations model projectors serve testing train utils".split()
FULL_PATH = re.compile(r"\bmoka_train/[\w/.-]*\w")
RELATIVE_MODULE = re.compile(rf"(?<![\w/.-])(?:{'|'.join(LAYERS)})/[\w/]*\w\.py\b")
MAP_FILE = re.compile(r"[\w./*-]*(?:\{[\w,]+\}[\w./*-]*)?\.py\b")
NAME = re.compile(r"([A-Za-z_][\w.]*)(?:\(.*\))?")
FILE_SUFFIXES = (".py", ".json", ".yaml", ".md", ".safetensors")


def stale_paths(text: str, root: Path = ROOT) -> list[str]:
    """The ``moka_train/...`` paths and package-relative module paths of ``text`` that do not exist."""
    full = [p for p in FULL_PATH.findall(text) if not (root / p).exists()]
    relative = [p for p in RELATIVE_MODULE.findall(text) if not (root / "moka_train" / p).is_file()]
    return full + relative


def package_map(text: str) -> str:
    """The first fenced code block of §2."""
    section = text.split("\n## 2. ", 1)[1].split("\n## 3. ", 1)[0]
    return section.split("```", 2)[1]


def expand(token: str) -> list[str]:
    """``sections/{base,model}.py`` -> ``sections/base.py``, ``sections/model.py``."""
    braces = re.search(r"\{([\w,]+)\}", token)
    if braces is None:
        return [token]
    return [token[: braces.start()] + part + token[braces.end() :] for part in braces.group(1).split(",")]


def map_entries(block: str, root: Path = ROOT) -> list[tuple[int, str, Path]]:
    """(line number, file name, directory it is read in) of every ``.py`` name of the map. A line
    indented 0, 2 or 4 spaces starts an entry at that depth; its first token, when it ends in
    ``/``, opens a directory under the one opened a level above; deeper lines continue the entry."""
    opened = {0: root}
    current = root
    entries = []
    for number, line in enumerate(block.splitlines(), start=1):
        text = line.lstrip()
        indent = len(line) - len(text)
        if text and indent in (0, 2, 4):
            parent = root if indent == 0 else opened[indent - 2]
            first = text.split()[0]
            current = parent / first.rstrip("/") if first.endswith("/") else parent
            opened[indent] = current
            text = text[len(first) :] if first.endswith("/") else text
        entries += [(number, name, current) for token in MAP_FILE.findall(text) for name in expand(token)]
    return entries


def resolve(name: str, directory: Path, root: Path = ROOT) -> list[Path]:
    """The files a map name means: in its directory, else package-relative, else repo-relative."""
    for base in (directory, root / "moka_train", root):
        found = sorted(base.glob(name)) if "*" in name else [base / name]
        found = [p for p in found if p.is_file()]
        if found:
            return found
    return []


def map_problems(block: str, root: Path = ROOT) -> tuple[list[str], list[str]]:
    """(names in the map that match no file, modules of the package the map does not name)."""
    entries = map_entries(block, root)
    stale = [
        f"line {n}: {name} (read in {d.relative_to(root)}/)" for n, name, d in entries if not resolve(name, d, root)
    ]
    named = {p for _, name, d in entries for p in resolve(name, d, root)}
    modules = {p for p in (root / "moka_train").rglob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    return stale, sorted(str(p.relative_to(root)) for p in modules - named)


def walks(text: str) -> dict[str, list[str]]:
    """Walk title -> its numbered steps (continuation lines joined)."""
    found: dict[str, list[str]] = {}
    title = None
    for line in text.splitlines():
        if line.startswith("#"):
            title = line.removeprefix("### Walk:").strip() if line.startswith("### Walk:") else None
            if title:
                found[title] = []
        elif title and re.match(r"\d+\. ", line):
            found[title].append(line)
        elif title and line.startswith(" ") and found[title]:
            found[title][-1] += " " + line.strip()
    return found


def step_problems(step: str, root: Path = ROOT) -> list[str]:
    """What a walk step gets wrong: its first code span is not a file, or a name it cites occurs
    in none of the files it names."""
    spans = re.findall(r"`([^`]+)`", step)
    files = [p for s in spans for p in (root / s, root / "moka_train" / s) if s.endswith(".py") and p.is_file()]
    if not spans or not (root / spans[0]).is_file():
        return [f"{step[:60]!r}: a step starts with the path of the file to open"]
    texts = [p.read_text() for p in files]
    names = [m.group(1) for s in spans if not s.endswith(FILE_SUFFIXES) and (m := NAME.fullmatch(s))]
    return [
        f"{spans[0]}: `{name}` occurs in none of {[str(p.relative_to(root)) for p in files]}"
        for name in names
        if not any(re.search(rf"\b{re.escape(name.split('.')[-1])}\b", t) for t in texts)
    ]


def test_docs_name_existing_paths():
    stale = {str(doc.relative_to(ROOT)): stale_paths(doc.read_text()) for doc in DOCS}
    assert not {doc: paths for doc, paths in stale.items() if paths}, (
        f"paths named in the docs that do not exist (moved or deleted?): {stale}"
    )


def test_package_map_names_every_module_and_only_existing_files():
    stale, missing = map_problems(package_map(DESIGN.read_text()))
    assert not stale, f"docs/design.md §2 package map: names no file: {stale}"
    assert not missing, f"docs/design.md §2 package map: these modules have no entry, add a line for each: {missing}"


def test_walks_follow_files_that_hold_the_names_they_cite():
    found = walks(DESIGN.read_text())
    assert set(found) == {"one training step", "one server request"}, sorted(found)
    assert all(len(steps) >= 8 for steps in found.values()), {t: len(s) for t, s in found.items()}
    problems = [p for steps in found.values() for step in steps for p in step_problems(step)]
    assert not problems, problems


def _tree(tmp_path: Path) -> Path:
    for name in ("moka_train/train/run.py", "moka_train/train/loop.py", "moka_train/cli/train.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("def run():\n    return train_stage()\n")
    return tmp_path


def test_checkers_catch_a_stale_name_a_missing_module_and_a_wrong_walk_step(tmp_path):
    root = _tree(tmp_path)
    block = "\nmoka_train/\n  cli/   train.py\n  train/ {run,gone}.py\n"
    stale, missing = map_problems(block, root)
    assert stale == ["line 4: gone.py (read in moka_train/train/)"]
    assert missing == ["moka_train/train/loop.py"]
    assert map_problems("\nmoka_train/\n  cli/   train.py\n  train/ run.py, loop.py\n", root) == ([], [])
    text = "moka_train/train/gone.py, moka_train/cli/, `train/run.py`, `serve/app.py`, tests/serve/x.py"
    assert stale_paths(text, root) == ["moka_train/train/gone.py", "serve/app.py"]
    good = "1. `moka_train/train/run.py`: `run` → `train_stage` (`train/loop.py`)."
    assert step_problems(good, root) == []
    assert step_problems("1. `moka_train/train/run.py`: `run_stage`.", root) == [
        "moka_train/train/run.py: `run_stage` occurs in none of ['moka_train/train/run.py']"
    ]
    assert step_problems("1. `moka_train/train/gone.py`: `run`.", root)
