"""The real CLI on the tiny models: an output_dir belongs to one run, resume continues only the
same run (seed, data, stages) from a checkpoint whose files verify, and the data report survives."""

import json
import shutil

import pytest
from e2e_helpers import losses, run_cli

pytestmark = pytest.mark.slow

# one stage of 8 steps (32 samples / batch 4), a checkpoint at every step
COMMON = [
    "stages=[{name: ft, kind: moka_finetune, epochs: 1}]",
    "train.micro_batch_size=4",
    "train.save_every=1",
    "train.keep_last=3",
    "data.max_bad_fraction=0.5",
]
MISSING = range(0, 24, 2)  # samples whose audio file does not exist: met while training, skipped, reported


@pytest.fixture(scope="module")
def base_run(workspace, tmp_path_factory):
    """ft stopped after 2 of its 8 steps: checkpoints at steps 1 and 2."""
    tmp = tmp_path_factory.mktemp("guards")
    rows = [json.loads(line) for line in (workspace / "data" / "av_qa.jsonl").read_text().splitlines()]
    for i in MISSING:
        rows[i]["audio"] = f"audio/missing_{i}.wav"
    data = tmp / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp / "run"
    run_cli(workspace, COMMON + [f"output_dir={out}", f"data.train_file={data}", "train.stop_after=2"])
    assert sorted(p.name for p in (out / "checkpoints").iterdir() if p.is_dir()) == [
        "ft-step00000001",
        "ft-step00000002",
    ]
    return out, data


def copy_run(base_run, tmp_path):
    out, data = base_run
    return shutil.copytree(out, tmp_path / "run"), data


def args(out, data, *more):
    return COMMON + [f"output_dir={out}", f"data.train_file={data}", *more]


def log(proc):
    return proc.stdout + proc.stderr


def snapshot(out):
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_rerun_without_resume_refuses_and_leaves_the_run_alone(workspace, base_run, tmp_path):
    out, data = copy_run(base_run, tmp_path)
    before = snapshot(out)
    proc = run_cli(workspace, args(out, data), expect_rc=2)
    assert "error: output_dir" in log(proc) and "already holds a run" in log(proc)
    assert "resume=auto" in log(proc) and "overwrite=true" in log(proc)
    assert snapshot(out) == before  # not a byte changed, config.yaml included

    run_cli(workspace, args(out, data, "overwrite=true", "train.stop_after=1"))
    assert sorted(p.name for p in (out / "checkpoints").iterdir() if p.is_dir()) == ["ft-step00000001"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1]  # the earlier run's metrics were deleted, not mixed in


@pytest.mark.parametrize(
    "change, named",
    [
        (["data.seed=7"], "data.seed: 0 in the checkpoint, 7 now"),
        (["train.seed=5"], "train.seed: 0 in the checkpoint, 5 now"),
        (["train.micro_batch_size=2"], "train.micro_batch_size: 4 in the checkpoint, 2 now"),
    ],
)
def test_resume_refuses_a_changed_seed_or_batch_by_name(workspace, base_run, tmp_path, change, named):
    out, data = copy_run(base_run, tmp_path)
    before = snapshot(out)
    proc = run_cli(workspace, args(out, data, "resume=auto", *change), expect_rc=2)
    assert named in log(proc) and "resume_allow_changes=[" in log(proc), log(proc)[-2000:]
    assert snapshot(out) == before


def test_resume_refuses_other_data_and_a_renamed_stage(workspace, base_run, tmp_path):
    out, data = copy_run(base_run, tmp_path)
    other = tmp_path / "other.jsonl"
    other.write_text("".join(data.read_text().splitlines(keepends=True)[1:]))  # one sample fewer
    proc = run_cli(workspace, args(out, other, "resume=auto"), expect_rc=2)
    assert "data.train_file: " in log(proc) and str(other) in log(proc) and "bytes" in log(proc)

    renamed = [a.replace("name: ft", "name: finetune") for a in args(out, data, "resume=auto")]
    proc = run_cli(workspace, renamed, expect_rc=2)
    assert "belongs to stage 'ft', which the config does not list (stages: finetune)" in log(proc)
    assert "is not in list" not in log(proc)


def test_resume_allow_changes_continues_on_purpose(workspace, base_run, tmp_path):
    out, data = copy_run(base_run, tmp_path)
    proc = run_cli(
        workspace,
        args(out, data, "resume=auto", "data.seed=7", "resume_allow_changes=[data.seed]", "train.stop_after=1"),
    )
    assert "continuing although data.seed changed" in log(proc)
    assert sorted(losses(out, "ft")) == [1, 2, 3]


def test_corrupt_newest_checkpoint_falls_back_to_the_previous_one(workspace, base_run, tmp_path):
    out, data = copy_run(base_run, tmp_path)
    newest = out / "checkpoints" / "ft-step00000002"
    optim = next(newest.glob("*optim_states.pt"))
    raw = bytearray(optim.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one flipped bit
    optim.write_bytes(bytes(raw))
    proc = run_cli(workspace, args(out, data, "resume=auto", "train.stop_after=1"))
    assert f"skipping checkpoint ft-step00000002: {optim}: sha256 differs" in log(proc), log(proc)[-3000:]
    assert "falling back to" in log(proc) and "resumed at step 1 " in log(proc)
    state = json.loads((out / "checkpoints" / "ft-step00000002" / "trainer_state.json").read_text())
    assert state["loop"]["step"] == 2  # step 2 trained again from step 1 and saved afresh

    rng = out / "checkpoints" / "ft-step00000001" / "rng_rank0.pt"
    rng.write_bytes(rng.read_bytes()[:100])  # truncated
    proc = run_cli(workspace, args(out, data, f"resume={rng.parent}"), expect_rc=2)  # a message, exit 2
    assert f"{rng}: 100 bytes" in log(proc) and "truncated" in log(proc)


def test_data_report_is_restored_on_resume(workspace, base_run, tmp_path):
    out, data = copy_run(base_run, tmp_path)
    seen_before = json.loads((out / "checkpoints" / "ft-step00000002" / "trainer_state.json").read_text())["data"]
    assert seen_before["num_bad"] >= 1  # some missing files were met before the stop
    run_cli(workspace, args(out, data, "resume=auto"))
    report = json.loads((out / "data_report_ft.json").read_text())
    ids = sorted(e["id"] for e in report["bad"]["unreadable_media"])
    assert report["num_bad"] == len(MISSING) and ids == [f"av_{i:05d}" for i in MISSING]
