"""Real-weights tests: the converted checkpoints are found through the same cache resolution as
`make real-weights` ($MOKA_REAL_WEIGHTS, else ~/.cache/moka-train/real). Missing: a failure in CI
(CI=true, where .ci/run fetches them first), a skip with the reason on a developer's machine.
Optional artifacts (``require_optional_real``, not fetched by CI) skip everywhere while absent."""

import os
from pathlib import Path

import pytest

from moka_train.testing.real_weights import ARTIFACTS, WeightFileError, converted_path, verify_manifest

POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")


def require_real(name: str) -> Path:
    """The verified cache folder of artifact ``name``, or a CI failure / local skip naming the fix."""
    folder = converted_path(name)
    try:
        return verify_manifest(folder)
    except WeightFileError as err:
        message = f"real weights {name!r} not usable ({err}); run `make real-weights`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def require_optional_real(name: str) -> Path:
    """An optional artifact (fetched only by `scripts/fetch_real_weights.py --only NAME`, never by
    CI): absent from the cache, a skip everywhere, CI included; present, verified like any other."""
    if not converted_path(name).exists():
        pytest.skip(f"optional real weights {name!r} not fetched; run `scripts/fetch_real_weights.py --only {name}`")
    return require_real(name)


def require_pocketsphinx() -> Path:
    if POCKETSPHINX.is_dir():
        return POCKETSPHINX
    message = "pocketsphinx-testdata is not installed (make real-weights installs it as root)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def real_smollm2() -> Path:
    return require_real(ARTIFACTS["smollm2-135m-instruct"].name)


@pytest.fixture(scope="session")
def real_whisper() -> Path:
    return require_real(ARTIFACTS["whisper-tiny.en"].name)
