"""evaluate run never scores the wrong rows: known benchmarks only (refused before loading), the
official decoding budget, the raw decoded text kept, one row per input sample (error rows instead
of substitutes), progress resumed only by the same evaluation, torn last lines repaired."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from tiny_export import build_export
from transformers import AutoTokenizer

from moka_train.cli import main
from moka_train.data.tokenizer import load_tokenizer
from moka_train.eval.generate import official_raw_text, stop_ids, until_stop
from moka_train.eval.metrics import SCORERS
from moka_train.eval.progress import ProgressError, key_file
from moka_train.eval.protocol import PROTOCOLS
from moka_train.eval.run import run_generation
from moka_train.eval.score import BENCHMARKS
from moka_train.model.export import export_weights

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"


@pytest.fixture(scope="module")
def exported(workspace, tmp_path_factory):
    return build_export(workspace, tmp_path_factory.mktemp("export"))


LLAMA2_TOKENIZER = Path(__file__).resolve().parents[1] / "fixtures" / "tokenizers" / "llama2"  # the real one
QUESTION = "This is a video:\n<video>\nThis is an audio:\n<audio>\nIs the tone high?"


def yes_no_file(cfg, path: Path, n: int = 4, extra: list[dict] = ()) -> Path:
    records = [json.loads(line) for line in Path(cfg.data.train_file).read_text().splitlines()[:n]]
    rows = [
        {
            "id": r["id"],
            "video": r["video"],
            "audio": r["audio"],
            "answer": "yes" if "high" in r["answer"] else "no",
            "conversations": [{"from": "human", "value": QUESTION}],
        }
        for r in records
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in [*rows, *extra]))
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_cli(export, source, output, *extra):
    return main(
        [
            "evaluate",
            "run",
            "--config",
            str(CONFIG),
            "--checkpoint",
            str(export),
            "--input",
            str(source),
            "--output",
            str(output),
            *extra,
        ]
    )


def test_unknown_benchmark_is_refused_before_anything_is_loaded(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:  # nothing exists: a later check would fail on the config
        main(
            [
                "evaluate",
                "run",
                "--config",
                str(tmp_path / "no.yaml"),
                "--checkpoint",
                str(tmp_path / "none"),
                "--benchmark",
                "vqa",
                "--input",
                str(tmp_path / "none.jsonl"),
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--benchmark: invalid choice: 'vqa'" in err and "'mmbench'" in err and "'music_avqa'" in err
    assert BENCHMARKS == list(PROTOCOLS) and set(BENCHMARKS) == set(SCORERS)


def test_budget_is_the_protocols_unless_overridden(exported, tmp_path, capsys):
    cfg, export, _ = exported
    source = yes_no_file(cfg, tmp_path / "q.jsonl")
    assert run_cli(export, source, tmp_path / "mmb.jsonl", "--benchmark", "mmbench") == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["max_new_tokens"] == PROTOCOLS["mmbench"].max_new_tokens == 5
    rows = lines(tmp_path / "mmb.jsonl")
    assert max(r["generated_tokens"] for r in rows) == 5  # the random tiny model never stops early by itself
    assert run_cli(export, source, tmp_path / "two.jsonl", "--benchmark", "mmbench", "--max-new-tokens", "2") == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["max_new_tokens"] == 2
    assert max(r["generated_tokens"] for r in lines(tmp_path / "two.jsonl")) == 2


def test_raw_text_keeps_the_stop_token_and_drops_the_padding_after_it(exported):
    cfg, _, _ = exported
    tokenizer = load_tokenizer(cfg.model)
    stops, pad = stop_ids(tokenizer), tokenizer.pad_token_id
    word = tokenizer.encode("yes", add_special_tokens=False)
    finished = [*word, stops[0], pad, pad]  # what generate returns for a row that stopped early
    new = torch.tensor([finished, (word * 4)[: len(finished)]])
    kept = until_stop(new, stops)
    assert kept[0] == [*word, stops[0]] and kept[1] == new[1].tolist()
    assert official_raw_text(tokenizer, kept[0]) == f"yes {tokenizer.convert_ids_to_tokens(stops[0])}"
    assert tokenizer.decode(kept[0], skip_special_tokens=True).strip() == "yes"


def test_raw_text_is_decoded_as_the_official_llama2_files_show_it():
    """The official files hold "A </s>" and "...image. </s>": the space before </s> that today's
    fast tokenizer no longer writes ("A</s>"), and that the official MMBench/SEED rule needs."""
    tokenizer = AutoTokenizer.from_pretrained(LLAMA2_TOKENIZER)
    for text, official in (("A", "A </s>"), ("A ", "A  </s>"), ("Yes, it is.", "Yes, it is. </s>")):
        ids = tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id]
        assert tokenizer.decode(ids, skip_special_tokens=False) == text + "</s>"  # why a rule of our own is needed
        assert official_raw_text(tokenizer, ids) == official


def test_unreadable_and_unrenderable_samples_get_error_rows_and_count_as_missing(exported, tmp_path, capsys, moka_log):
    cfg, export, _ = exported
    root = tmp_path / "root"
    shutil.copytree(cfg.data.root, root)
    (root / "video" / "broken.mp4").write_bytes(b"not a video at all")
    broken = {
        "id": "broken",
        "video": "video/broken.mp4",
        "audio": "audio/av_00000.wav",
        "answer": "yes",
        "conversations": [{"from": "human", "value": QUESTION}],
    }
    empty = {
        "id": "no_question",
        "video": "video/av_00000.mp4",
        "audio": "audio/av_00000.wav",
        "answer": "no",
        "conversations": [],
    }
    source = yes_no_file(cfg, tmp_path / "q.jsonl", n=4, extra=[broken, empty])
    output = tmp_path / "preds.jsonl"
    overrides = [f"data.root={root}", "data.max_bad_fraction=0.5"]
    assert run_cli(export, source, output, "--benchmark", "pope", "--max-new-tokens", "2", *overrides) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    rows = lines(output)
    assert [r["id"] for r in rows] == ["av_00000", "av_00001", "av_00002", "av_00003", "broken", "no_question"]
    errors = {r["id"]: r for r in rows if r.get("error")}
    assert {i: r["error"] for i, r in errors.items()} == {
        "broken": "unreadable_media",
        "no_question": "empty_conversation",
    }
    assert "broken.mp4" in errors["broken"]["detail"] and "prediction" not in errors["broken"]
    assert [r["video"] for r in rows[:2]] == ["video/av_00000.mp4", "video/av_00001.mp4"]  # rows name their media
    assert errors["broken"]["video"] == "video/broken.mp4" and errors["no_question"]["audio"] == "audio/av_00000.wav"
    assert (result["n"], result["n_missing"]) == (4, 2)  # official: the 4 answers scored, 2 missing reported
    assert "2 samples have no answer" in captured.err
    assert any("2 of 6 samples have an error row" in r.getMessage() for r in moka_log.records)
    assert main(["evaluate", "score", "--benchmark", "pope", "--predictions", str(output), "--mode", "strict"]) == 0
    strict = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (strict["n"], strict["n_missing"]) == (6, 2)  # strict: counted, and wrong


def test_progress_of_another_evaluation_is_refused(exported, tmp_path, capsys):
    cfg, export, model = exported
    source = yes_no_file(cfg, tmp_path / "q.jsonl")
    output = tmp_path / "preds.jsonl"
    base = dict(batch_size=4, max_new_tokens=2, limit=2, benchmark="pope")
    run_generation(cfg, export, source, output, **base)
    assert json.loads(key_file(output).read_text())["benchmark"] == "pope"
    other_input = yes_no_file(cfg, tmp_path / "q5.jsonl", n=5)
    other_export = export_weights(
        model, tmp_path / "other_export", "", {"stage": "other"}, extra={"embeddings": model.added_embeddings()}
    )
    changes = [
        ({"adapter_modalities": ["video"]}, "probe: 'all' there, ['video'] now"),
        ({"benchmark": "mme"}, "benchmark: 'pope' there, 'mme' now"),
        ({"max_new_tokens": 3}, "max_new_tokens: 2 there, 3 now"),
        ({"input_file": other_input}, "input_sha256: "),
        ({"checkpoint": other_export}, "checkpoint_sha256: "),
    ]
    for change, named in changes:
        kwargs = {**base, "checkpoint": export, "input_file": source, **change}
        with pytest.raises(ProgressError, match="holds predictions of another evaluation") as err:
            run_generation(cfg, output=output, **kwargs)
        assert named in str(err.value)
    assert [r["id"] for r in lines(output)] == ["av_00000", "av_00001"]  # untouched
    moved = shutil.copytree(export, tmp_path / "moved_export")  # the same checkpoint elsewhere: resumes
    run_generation(cfg, moved, source, output, **{**base, "limit": 3})
    assert len(lines(output)) == 3
    key_file(output).unlink()  # rows whose origin is unknown are not resumed either
    assert run_cli(export, source, output, "--benchmark", "pope", "--max-new-tokens", "2") == 2
    assert "preds.jsonl.progress.json (which says what evaluation wrote them) is missing" in capsys.readouterr().err


def test_torn_last_line_is_dropped_with_a_warning_naming_the_file(exported, tmp_path, moka_log):
    cfg, export, _ = exported
    source = yes_no_file(cfg, tmp_path / "q.jsonl")
    output = tmp_path / "preds.jsonl"
    run_generation(cfg, export, source, output, max_new_tokens=2, limit=2, benchmark="pope")
    part = tmp_path / "preds.jsonl.rank0"  # as an interrupted run leaves it: rows, then a half-written one
    part.write_text(output.read_text() + '{"id": "av_00002", "predic')
    output.unlink()
    run_generation(cfg, export, source, output, max_new_tokens=2, limit=4, benchmark="pope")
    assert [r["id"] for r in lines(output)] == ["av_00000", "av_00001", "av_00002", "av_00003"]
    assert any(str(part) in r.getMessage() and "half-written last line" in r.getMessage() for r in moka_log.records)
    output.write_text(output.read_text().replace('"id": "av_00001"', '"id": "av_00001', 1))  # damage, not a tear
    with pytest.raises(ProgressError, match=f"{output}:2: not valid JSON"):
        run_generation(cfg, export, source, output, max_new_tokens=2, limit=4, benchmark="pope")


def test_input_with_a_repeated_id_is_refused_naming_it(exported, tmp_path, capsys):
    cfg, export, _ = exported
    source = yes_no_file(cfg, tmp_path / "q.jsonl", n=3)
    first = source.read_text().splitlines()[0]
    source.write_text(source.read_text() + first + "\n")  # 4 rows in, 3 ids: the merge would collapse two
    assert run_cli(export, source, tmp_path / "p.jsonl", "--benchmark", "pope", "--max-new-tokens", "1") == 2
    assert f"{source}: 1 sample ids occur more than once ('av_00000')" in capsys.readouterr().err
