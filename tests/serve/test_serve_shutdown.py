"""SIGTERM with generations queued (issue 32 item 3): the server exits within its grace period,
answering the queued requests 503, instead of generating every one of them first (38.5 s was
measured). A real uvicorn process serves a stand-in engine whose every batch takes 20 s."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from processes import free_port, wait_until_serving

SERVER = """
import sys, time, types
from moka_train.serve.app import ServeBounds, create_app, run_server

class Slow:
    cfg = types.SimpleNamespace(data=types.SimpleNamespace(media_max_bytes=2**20))
    placeholders = {}
    def context(self):
        return 2048
    def answer(self, questions, budget, cancelled=None, decoding=None):
        for _ in range(200):  # 20 s unless every asker is gone
            if cancelled is not None and cancelled():
                break
            time.sleep(0.1)
        return [{"prediction": "x", "generated_tokens": 1} for _ in questions]

app = create_app(Slow(), "m", None, 1.0, max_batch=1, bounds=ServeBounds(shutdown_grace_s=1.0))
run_server(app, "127.0.0.1", int(sys.argv[1]), 1.0)
"""


def test_sigterm_with_queued_generations_exits_within_the_grace(tmp_path):
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, f"{base}/v1/models", seconds=30)

        def ask(_):
            try:
                body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
                return httpx.post(f"{base}/v1/chat/completions", json=body, timeout=60).status_code
            except httpx.HTTPError as err:
                return type(err).__name__

        with ThreadPoolExecutor(4) as pool:
            answers = pool.map(ask, range(4))  # one in flight, three queued (max_batch 1)
            time.sleep(1.0)
            start = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            took = time.perf_counter() - start
            statuses = list(answers)
    finally:
        proc.kill()
    print(f"shutdown took {took:.2f} s; statuses {statuses}")
    assert took < 8.0, f"shutdown took {took:.1f} s"
    assert statuses.count(503) == 3, statuses  # the queued requests are refused at once, not generated
