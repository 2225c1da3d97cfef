"""`moka-train show-sample`: the real CLI prints the sample with media blocks, the query span and
the trained answer distinguished."""

from __future__ import annotations

import json

import yaml

from moka_train.cli import main
from moka_train.data.specs import modality_specs


def write_config(tmp_path, tokenizer_dir, root, train_file):
    enc = {"type": "clip_hf", "path": "unused"}
    cfg = {
        "model": {
            "llm_path": str(tokenizer_dir),
            "modalities": [
                {
                    "name": "video",
                    "placeholder": "<video>",
                    "frames": 3,
                    "encoder": enc,
                    "projector": {"num_queries": 4},
                },
                {
                    "name": "audio",
                    "placeholder": "<audio>",
                    "frames": 2,
                    "encoder": {"type": "beats", "path": "x"},
                    "projector": {"num_queries": 5, "per_frame": False},
                },
            ],
        },
        "data": {"root": str(root), "train_file": str(train_file), "template": "llama3"},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_show_sample_cli_prints_media_query_and_answer(tmp_path, tokenizer_dirs, synthetic_root, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping inside the question
    row = json.loads((synthetic_root / "av_qa.jsonl").read_text().splitlines()[0])
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps(row) + "\n")
    config = write_config(tmp_path, tokenizer_dirs["llama3"], synthetic_root, train)
    assert main(["show-sample", "--config", str(config), "--index", "0"]) == 0
    out = capsys.readouterr().out
    assert "[video x12]" in out and "[audio x5]" in out  # 4 queries x 3 frames; not per frame: 5
    assert f"sample {row['id']}" in out and "query tokens" in out
    question = row["conversations"][0]["value"].split("question: ")[1]
    assert question in out.replace("|", "")  # tokens are printed with | boundaries
    assert f"{row['answer']}<|eot_id|>" in out.replace("|", "").replace("<eot_id>", "<|eot_id|>")


def test_token_counts_follow_the_projector():
    from moka_train.config.sections.model import ModelConfig

    model = ModelConfig.model_validate(
        {
            "llm_path": "x",
            "modalities": [
                {"name": "video", "placeholder": "<video>", "frames": 10, "encoder": {"type": "clip_hf", "path": "p"}},
                {
                    "name": "image",
                    "placeholder": "<image>",
                    "encoder": {"type": "clip_hf", "path": "p", "tokens": 256},
                    "projector": {"type": "mlp"},
                },
            ],
        }
    )
    assert [m.media_tokens() for m in model.modalities] == [320, 256]  # the official 32 x 10; 256 patches
    specs = modality_specs(model)
    assert [(s.name, s.num_tokens, s.id) for s in specs] == [("video", 320, 2), ("image", 256, 3)]


def test_tokens_show_their_spaces_with_a_sentencepiece_tokenizer():
    """Decoded one by one, LLaMA-2's "▁are" prints as "are"; in context it keeps its space."""
    from pathlib import Path

    from transformers import AutoTokenizer

    from moka_train.data.show import colour_tokens
    from moka_train.modality import TEXT

    tok = AutoTokenizer.from_pretrained(str(Path(__file__).resolve().parents[1] / "fixtures" / "tokenizers" / "llama2"))
    ids = tok("You are a helpful assistant.", add_special_tokens=False)["input_ids"]
    shown = colour_tokens(tok, ids, [-100] * len(ids), [TEXT] * len(ids), {}).plain
    assert shown == "You| are| a| helpful| assistant|.|"
