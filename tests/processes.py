"""Helpers of the tests that start other processes: a free port, `moka-train serve` as a process
and the wait until it answers."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command(config: Path, export: Path, port: int, media_root: Path, model_name: str, *extra: str) -> list[str]:
    """`moka-train serve` on ``port`` for an export, media paths read under ``media_root``."""
    cli = [sys.executable, "-m", "moka_train.cli", "serve", "--config", str(config), "--checkpoint", str(export)]
    return cli + ["--port", str(port), "--media-root", str(media_root), "--model-name", model_name, *extra]


def wait_until_serving(server: subprocess.Popen, url: str, log: Path | None = None, seconds: float = 300) -> None:
    """Returns once ``url`` answers 200; fails with the server's output if it exits or never does."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            output = log.read_text() if log else server.stderr.read() if server.stderr else ""
            pytest.fail(f"server exited with {server.returncode}:\n{output[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    pytest.fail(f"server did not start:\n{log.read_text()[-3000:] if log else ''}")
