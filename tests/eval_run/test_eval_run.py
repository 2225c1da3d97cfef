"""evaluate run: predictions written incrementally in input order, a rerun skips finished ids,
and the partial-modality probe is validated and recorded."""

import json
from pathlib import Path

import pytest
from tiny_export import build_export

from moka_train.eval.run import probe_ids, run_generation

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"


@pytest.fixture(scope="module")
def exported(workspace, tmp_path_factory):
    return build_export(workspace, tmp_path_factory.mktemp("export"))


def test_predictions_in_input_order_and_rerun_skips_done(exported, tmp_path):
    cfg, export, _ = exported
    source = Path(cfg.data.train_file)
    ids = [json.loads(line)["id"] for line in source.read_text().splitlines()][:6]
    output = tmp_path / "preds.jsonl"
    # an earlier, interrupted run of the same evaluation finished two samples (marked so we can tell)
    run_generation(cfg, export, source, output, batch_size=4, max_new_tokens=3, limit=2)
    earlier = [{**json.loads(line), "prediction": "FROM-EARLIER-RUN"} for line in output.read_text().splitlines()]
    output.write_text("".join(json.dumps(r) + "\n" for r in earlier))
    run_generation(cfg, export, source, output, batch_size=4, max_new_tokens=3, limit=6)
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["id"] for r in rows] == ids
    assert [r["prediction"] == "FROM-EARLIER-RUN" for r in rows] == [True, True, False, False, False, False]
    assert all(r["adapter_modalities"] == "all" for r in rows[2:])
    assert all("Please answer this question:" in r["prompt"] for r in rows[2:])  # the prompt is recorded
    assert all(0 < r["generated_tokens"] <= 3 and r["raw_prediction"] for r in rows[2:])
    assert not list(tmp_path.glob("preds.jsonl.rank*"))  # parts merged away


def test_folded_decoding_answers_exactly_as_unfolded(exported, tmp_path):
    """Evaluation folds MokA's text path into W0 for decoding: the same greedy answers, through
    the real pipeline (features spliced into inputs_embeds, batched left padding, KV cache)."""
    cfg, export, _ = exported
    answers = {}
    for fold in (False, True):
        output = tmp_path / f"fold_{fold}.jsonl"
        run_generation(cfg, export, cfg.data.train_file, output, batch_size=4, max_new_tokens=6, limit=8, fold=fold)
        answers[fold] = [json.loads(line)["prediction"] for line in output.read_text().splitlines()]
    assert answers[True] == answers[False] and len(answers[True]) == 8
    assert len(set(answers[True])) > 1  # answers that depend on the sample, not one constant string


def test_probe_names_are_checked_and_recorded(exported, tmp_path):
    cfg, export, model = exported
    assert probe_ids(model, ["text"]) == (0, 1)
    assert probe_ids(model, ["video", "text"]) == (0, 1, 2)
    with pytest.raises(ValueError, match="unknown \\['speech'\\]; choose from text, video, audio"):
        probe_ids(model, ["speech"])
    output = tmp_path / "probe.jsonl"
    run_generation(cfg, export, cfg.data.train_file, output, max_new_tokens=2, limit=2, adapter_modalities=["video"])
    assert all(json.loads(line)["adapter_modalities"] == ["video"] for line in output.read_text().splitlines())


def test_single_question_uses_the_official_prompt_and_answers(exported, tmp_path, capsys):
    from argparse import Namespace

    from moka_train.cli.infer import infer_main
    from moka_train.data.question import Media, Question, question_sample
    from moka_train.data.specs import modality_specs

    cfg, export, _ = exported
    video = Path(cfg.data.root) / "video" / "av_00000.mp4"
    asked = Question([("user", "What colour?")], {"video": Media(path=video)})
    sample = question_sample(asked, "q", modality_specs(cfg.model))
    assert sample.turns[0].text == "This is a video:\n<video>\nPlease answer this question: What colour?"
    assert sample.sources == {"video": video.resolve()} and "audio" not in sample.media
    args = Namespace(
        config=str(CONFIG),
        overrides=[],
        export=str(export),
        question="What colour?",
        image=None,
        video=str(video),
        audio=None,
        speech=None,
        input=None,
        output=None,
    )
    assert infer_main(args) == 0
    assert capsys.readouterr().out.strip()  # one answer printed


def test_evaluate_run_cli_generates_then_scores(exported, tmp_path, capsys):
    """`evaluate.py run` end to end on the tiny model: yes/no questions about the synthetic clips,
    scored as POPE (whose scorer reads our `prediction` and `answer` fields)."""
    from moka_train.cli import main

    cfg, export, _ = exported
    rows = [json.loads(line) for line in Path(cfg.data.train_file).read_text().splitlines()[:4]]
    with (tmp_path / "yesno.jsonl").open("w") as fh:
        for r in rows:
            high = r["answer"].endswith("high")
            fh.write(
                json.dumps(
                    {
                        "id": r["id"],
                        "video": r["video"],
                        "audio": r["audio"],
                        "answer": "yes" if high else "no",
                        "conversations": [
                            {
                                "from": "human",
                                "value": "This is a video:\n<video>\nThis is an audio:\n<audio>\nIs the tone high?",
                            }
                        ],
                    }
                )
                + "\n"
            )
    out = tmp_path / "preds.jsonl"
    code = main(
        [
            "evaluate",
            "run",
            "--config",
            str(CONFIG),
            "--checkpoint",
            str(export),
            "--benchmark",
            "pope",
            "--input",
            str(tmp_path / "yesno.jsonl"),
            "--output",
            str(out),
            "--max-new-tokens",
            "2",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["benchmark"] == "pope" and result["n"] == 4 and result["method"] == "moka"
    assert result["decoding"] == {"mode": "greedy", "do_sample": False, "num_beams": 1}  # the default, recorded
    assert json.loads(Path(str(out) + ".result.json").read_text()) == result
    assert len(out.read_text().splitlines()) == 4


def test_report_puts_the_paper_beside_our_numbers(tmp_path, capsys):
    from moka_train.cli import main

    files = []
    for method, value in (("moka", 75.0), ("lora", 72.5)):
        path = tmp_path / f"{method}.result.json"
        path.write_text(
            json.dumps({"benchmark": "music_avqa", "value": value, "method": method, "recipe": "avqa_llama2"}) + "\n"
        )
        files.append(str(path))
    assert main(["evaluate", "report", *files, "--output", str(tmp_path / "table.md")]) == 0
    table = capsys.readouterr().out
    assert "| llama2 | moka | 75.00 (paper 75.71) |" in table
    assert "| llama2 | lora | 72.50 (paper 73.41) |" in table
    assert (tmp_path / "table.md").read_text() == table
