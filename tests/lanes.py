"""The suite's two lanes: `make test` (CI) runs every test; `make test-fast` (development) runs
`pytest -m "not e2e and not multiprocess and not slow"`. tests/conftest.py sets the markers."""

# e2e: every test under tests/e2e (end to end through the real CLI, most with DeepSpeed ranks).
# multiprocess: tests elsewhere that train or serve in other processes, by node id from tests/
# (a file, or a file and a test name); tests/test_fast_lane.py checks each still names a test.
MULTIPROCESS = (
    "examples/test_moka_on_your_loop.py",  # the example trains in a subprocess
    "integrations/test_lmms_eval_plugin.py::test_lmms_eval_cli_",  # lmms-eval's own CLI, in a subprocess
    "scripts/test_bench_loss.py::test_script_compares_both_paths",  # measures each path in child processes
    "scripts/test_gpu_check.py",  # the GPU check's training steps (dry run), in a subprocess
    "serve/test_serve_openai.py",  # a server process, answering over HTTP
)
MARKERS = (
    "e2e: end to end through the real CLI (every test under tests/e2e; set in tests/conftest.py)",
    "multiprocess: trains or serves in other processes (MULTIPROCESS above)",
)
