"""Generation from a run's fine-tuned export, as the end-to-end tests of each backbone check it:
left-padded batched greedy decoding equals decoding each prompt alone."""

from pathlib import Path

import torch
from e2e_helpers import DEMO_CONFIG
from torch.utils.data import DataLoader, Subset

from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.dataset import MultimodalDataset
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.model.export import load_export


def exported_model(workspace: Path, out: Path, overrides: list[str], monkeypatch) -> tuple:
    """(config, tokenizer, model, loaded roles): the run's model with its fine-tuned export loaded."""
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    cfg = load_config(DEMO_CONFIG, overrides)
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer, cfg.adapter).eval()
    return cfg, tokenizer, model, sorted(load_export(model, out / "export" / "finetune"))


def generation_batches(cfg, tokenizer, model, batch_size: int, n: int = 6) -> list[dict]:
    data = MultimodalDataset.from_file(
        cfg.data.train_file, cfg.data, tokenizer, [b.spec for b in model.branches], generation=True
    )
    loader = DataLoader(
        Subset(data, list(range(n))), batch_size=batch_size, collate_fn=Collator(tokenizer.pad_token_id, "left")
    )
    return list(loader)


def generate_batched_and_alone(cfg, tokenizer, model, n: int = 6) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Greedy tokens for the first ``n`` training prompts, left-padded in one batch and one by one:
    (the batch, its tokens, the tokens alone)."""
    batched = generation_batches(cfg, tokenizer, model, n, n)[0]
    assert (batched["attention_mask"] == 0).any()  # the prompts really differ in length
    kwargs = dict(max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=None)
    together = model.generate(batched, **kwargs)
    alone = torch.cat([model.generate(b, **kwargs) for b in generation_batches(cfg, tokenizer, model, 1, n)])
    return batched, together, alone
