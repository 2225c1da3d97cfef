"""cli/errors.py: one `error:` line per refusal, a DataLoader worker's traceback stripped from it,
--debug taken from any position (issue 33)."""

from pathlib import Path

from moka_train.cli.errors import message_of, pop_debug
from moka_train.data.dataset import BadSampleError

WRAPPED = (
    "Caught BadSampleError in DataLoader worker process 0.\n"
    "Original Traceback (most recent call last):\n"
    '  File "/x/torch/utils/data/_utils/worker.py", line 349, in _worker_loop\n'
    "    data = fetcher.fetch(index)\n"
    "moka_train.data.dataset.BadSampleError: unreadable_media: sample av_3: cannot read /d/a.wav: not a WAV file\n"
)


def test_a_worker_error_is_its_own_message_without_the_traceback():
    said = message_of(BadSampleError(WRAPPED))
    assert said.startswith("unreadable_media: sample av_3: cannot read /d/a.wav: not a WAV file; replace or remove")
    assert "Traceback" not in said and said.endswith("data.bad_sample_policy=skip (skipped samples are reported)")
    assert message_of(BadSampleError("plain: message")) == "plain: message"


def test_debug_is_taken_from_any_position_except_lmms_eval_arguments():
    assert pop_debug(["train", "--config", "c.yaml", "--debug"]) == (["train", "--config", "c.yaml"], True)
    assert pop_debug(["--debug", "validate", "--config", "c.yaml"]) == (["validate", "--config", "c.yaml"], True)
    assert pop_debug(["lmms-eval", "--debug"]) == (["lmms-eval", "--debug"], False)


def test_a_missing_export_is_refused_before_any_model_is_built(tmp_path, monkeypatch, capsys):
    import moka_train.eval.generate as generate
    from moka_train.cli import main

    monkeypatch.setenv("DEMO_ROOT", str(tmp_path))
    monkeypatch.setattr(generate, "load_for_inference", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    config = str(Path(__file__).resolve().parents[1] / "configs" / "tiny_avqa.yaml")
    nope = tmp_path / "nope"
    argv = ["evaluate", "run", "--config", config, "--checkpoint", str(nope), "--benchmark", "synthetic_avqa"]
    assert main([*argv, "--input", str(tmp_path / "in.jsonl")]) == 2
    assert main(["infer", "--config", config, "--checkpoint", str(nope), "--question", "Colour?"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert (
        errors
        == [
            f"error: --checkpoint {nope}: no export there (no manifest.json); give an export directory, "
            "<output_dir>/export/<stage>, written by `moka-train train` or `moka-train import-official`"
        ]
        * 2
    )
