import logging
import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # `from reference.official_checkpoints import ...` (test-only oracles)
from lanes import MARKERS, MULTIPROCESS  # noqa: E402  (tests/lanes.py: what `make test-fast` leaves out)

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

OFFICIAL_FIXTURES = TESTS / "fixtures" / "official"  # the official MokA prediction files, see PROVENANCE.txt


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def node_id(item) -> str:
    """The item's node id from tests/, whatever directory pytest was started in."""
    path = Path(item.path).resolve()
    where = path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else path.as_posix()
    return where + item.nodeid[len(item.nodeid.split("::")[0]) :]


def pytest_collection_modifyitems(config, items):
    for item in items:
        node = node_id(item)
        if node.startswith("e2e/"):
            item.add_marker(pytest.mark.e2e)
        if node.startswith(MULTIPROCESS):
            item.add_marker(pytest.mark.multiprocess)


@pytest.fixture
def shared_fixtures() -> Path:
    """The official MokA prediction files, copied into the repository (never skipped: they are part of it)."""
    return OFFICIAL_FIXTURES


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> Path:
    """Tiny tokenizer + LLaMA, CLIP, BEATs and synthetic AV data on disk, built once per session."""
    from moka_train.testing.workspace import build_tiny_workspace

    return build_tiny_workspace(tmp_path_factory.mktemp("ws"), seed=0, num_av=32)


@pytest.fixture
def moka_log(caplog):
    """Records of the moka_train loggers (they do not propagate to the root logger caplog watches)."""
    logger = logging.getLogger("moka_train")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.fixture(autouse=True)
def _master_port_not_inherited():
    """A test that trains in this process sets MASTER_PORT (init_distributed's default) and its gloo
    group keeps listening there; a later test's child process must not inherit that port (EADDRINUSE
    in a `moka-train train` child, seen in the full suite). The rank variables stay: DeepSpeed's
    engine reads LOCAL_RANK from the environment in later in-process tests."""
    before = os.environ.get("MASTER_PORT")
    yield
    if before is None:
        os.environ.pop("MASTER_PORT", None)
    else:
        os.environ["MASTER_PORT"] = before
