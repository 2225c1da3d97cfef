"""DeepSpeed's JIT ops (issue 33): built in the venv's own directory, announced before a build,
and not built at all for a one-process CPU run."""

import logging
import os
import subprocess
import sys

from moka_train.utils import jit_ops

INIT = (
    "import os; from moka_train.utils.dist import init_distributed; init_distributed(); "
    "print('EXT=' + os.environ['TORCH_EXTENSIONS_DIR'])"
)


def init_in_subprocess(env: dict) -> subprocess.CompletedProcess:
    # a fresh one-process launch: no rank or rendezvous of this pytest process (an earlier in-process
    # test's MASTER_PORT is still listening here, so inheriting it fails with EADDRINUSE)
    launch = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    env = {k: v for k, v in {**os.environ, **env}.items() if k not in launch}
    # the old code compiled deepspeed_shm_comm here (minutes): the timeout is the failure
    return subprocess.run([sys.executable, "-c", INIT], env=env, capture_output=True, text=True, timeout=180)


def test_one_process_cpu_run_builds_no_op(tmp_path):
    proc = init_in_subprocess({"TORCH_EXTENSIONS_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"EXT={tmp_path}" in proc.stdout  # a directory the user set is kept
    assert not (tmp_path / jit_ops.SHM_COMM).exists() and "built successfully" not in proc.stdout + proc.stderr
    assert "deepspeed_shm_comm) is not needed, not built" in proc.stderr


def test_extensions_default_to_the_venv(monkeypatch):
    monkeypatch.delenv("TORCH_EXTENSIONS_DIR", raising=False)
    assert jit_ops.use_venv_extensions_dir() == jit_ops.Path(sys.prefix) / "torch_extensions"
    assert os.environ["TORCH_EXTENSIONS_DIR"] == str(jit_ops.Path(sys.prefix) / "torch_extensions")


def test_a_build_is_announced_before_it_starts_and_a_load_says_so(tmp_path, monkeypatch, moka_log):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    jit_ops.announce_op(jit_ops.CPU_ADAM, "train.deepspeed.offload_optimizer")
    (warning,) = [r for r in moka_log.records if r.levelno == logging.WARNING]
    assert f"cpu_adam (train.deepspeed.offload_optimizer): building it in {tmp_path} now" in warning.getMessage()
    assert "C++ compiler" in warning.getMessage()
    (tmp_path / "cpu_adam").mkdir()
    (tmp_path / "cpu_adam" / "cpu_adam.so").write_bytes(b"")
    jit_ops.announce_op(jit_ops.CPU_ADAM, "train.deepspeed.offload_optimizer")
    assert f"loading the build in {tmp_path}" in moka_log.records[-1].getMessage()


def test_several_cpu_ranks_use_gloo_unless_asked(monkeypatch):
    import deepspeed.ops

    compatible = deepspeed.ops.__compatible_ops__
    monkeypatch.setitem(compatible, jit_ops.SHM_COMM, True)
    monkeypatch.delenv("MOKA_DEEPSPEED_SHM", raising=False)
    jit_ops.prepare_cpu_comm(2)
    assert compatible[jit_ops.SHM_COMM] is False  # DeepSpeed's TorchBackend then skips build_shm_op
    compatible[jit_ops.SHM_COMM] = True
    monkeypatch.setenv("MOKA_DEEPSPEED_SHM", "1")
    jit_ops.prepare_cpu_comm(2)
    assert compatible[jit_ops.SHM_COMM] is True
