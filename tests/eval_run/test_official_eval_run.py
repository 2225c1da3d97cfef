"""`evaluate run` end to end on an imported official checkpoint (tiny, official key names and
shapes): the answers it writes are the greedy tokens of the official layers' semantics."""

import json
import os
from pathlib import Path

import torch
from reference.official_checkpoints import hook_official_lora, write_avt_checkpoint
from torch.utils.data import DataLoader

from moka_train.cli import main
from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.tokenizer import load_tokenizer
from moka_train.eval.generate import eval_dataset, load_for_inference
from moka_train.model.build import build_model

OFFICIAL = Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa_official.yaml"


def yes_no_questions(cfg, path: Path, n: int = 4) -> Path:
    rows = [json.loads(line) for line in Path(cfg.data.train_file).read_text().splitlines()[:n]]
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": r["id"],
                    "video": r["video"],
                    "audio": r["audio"],
                    "answer": "yes",
                    "conversations": [
                        {
                            "from": "human",
                            "value": "This is a video:\n<video>\nThis is an audio:\n<audio>\n"
                            "Please answer this question: Is the tone high?",
                        }
                    ],
                }
            )
            + "\n"
            for r in rows
        )
    )
    return path


def official_next_tokens(cfg, export: Path, official: dict, questions: Path) -> list[int]:
    """Greedy first tokens with the official layer semantics (reference oracle) on our inputs."""
    tokenizer, model = load_for_inference(cfg, export, fold=False)
    torch.manual_seed(0)
    base = build_model(cfg.model, tokenizer, None).eval()
    batch = next(
        iter(
            DataLoader(
                eval_dataset(cfg, tokenizer, model, questions),
                batch_size=8,
                collate_fn=Collator(tokenizer.pad_token_id, padding_side="left"),
            )
        )
    )
    with torch.no_grad():
        embeds, _ = model.embed(batch)
        hook_official_lora(
            base.llm,
            official["adapter"],
            "base_model.model.model.",
            ["lora_A0", "lora_A1", "lora_A2"],
            "lora_B0",
            batch["modality_ids"],
            16 / 4,
            1.0,
            "official",
        )
        logits = base.llm(inputs_embeds=embeds, attention_mask=batch["attention_mask"]).logits[:, -1]
    return logits.argmax(-1).tolist()


def test_evaluate_run_on_an_imported_official_checkpoint(workspace, tmp_path, capsys):
    os.environ["DEMO_ROOT"] = str(workspace)
    cfg = load_config(OFFICIAL)
    model = build_model(cfg.model, load_tokenizer(cfg.model), cfg.adapter)
    dims = {
        m: dict(
            in_dim=p.in_dim,
            hidden=p.qformer.config.hidden_size,
            layers=p.qformer.config.num_hidden_layers,
            queries=p.num_queries,
            d_model=p.out_dim,
        )
        for m, p in model.projectors.items()
    }
    official = write_avt_checkpoint(tmp_path / "AVQA_checkpoint", model.llm, dims, seed=7)
    export = tmp_path / "export"
    assert (
        main(
            [
                "import-official",
                "--config",
                str(OFFICIAL),
                "--source",
                str(tmp_path / "AVQA_checkpoint"),
                "--output",
                str(export),
            ]
        )
        == 0
    )
    questions = yes_no_questions(cfg, tmp_path / "yesno.jsonl")
    out = tmp_path / "preds.jsonl"
    capsys.readouterr()
    torch.manual_seed(0)  # the placeholder rows added to the vocabulary, as in official_next_tokens
    assert (
        main(
            [
                "evaluate",
                "run",
                "--config",
                str(OFFICIAL),
                "--checkpoint",
                str(export),
                "--benchmark",
                "pope",
                "--input",
                str(questions),
                "--output",
                str(out),
                "--max-new-tokens",
                "1",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["benchmark"] == "pope" and result["n"] == 4 and result["method"] == "moka"
    predictions = [json.loads(line)["prediction"] for line in out.read_text().splitlines()]
    tokenizer = load_tokenizer(cfg.model)
    expected = [
        tokenizer.decode([t], skip_special_tokens=True).strip()
        for t in official_next_tokens(cfg, export, official, questions)
    ]
    assert predictions == expected and any(predictions)
