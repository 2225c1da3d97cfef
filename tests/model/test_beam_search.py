"""Beam search on every backbone (config/backbones.py), through the one ``MultimodalLM.generate``:
the routing is repeated for the beams on each, and the beams returned are the ones a beam search
by hand over the model's own forward (no cache, one full forward per beam and step) finds; with one
beam that search is greedy decoding, so ``num_beams=1`` is checked against its argmax too."""

import pytest
import torch
from qwen25vl_helpers import CONFIG, overrides
from torch.utils.data import DataLoader, Subset

from moka_train.adapters import adapter_modules
from moka_train.config import load_config
from moka_train.config.backbones import BACKBONES
from moka_train.data.collate import Collator
from moka_train.data.dataset import MultimodalDataset
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.testing.vlm import make_tiny_qwen25vl

NEW_TOKENS = 3


@pytest.fixture(scope="module", params=sorted(BACKBONES))
def built(request, workspace, tmp_path_factory):
    """(tokenizer, model with non-zero adapters, left-padded generation data) of one backbone."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEMO_ROOT", str(workspace))
        given = []
        if request.param == "qwen2_5_vl":
            llm_dir = tmp_path_factory.mktemp("qwen25vl") / "llm"
            make_tiny_qwen25vl(llm_dir, seed=0)
            given = overrides(llm_dir)
        cfg = load_config(CONFIG, given)
    assert cfg.model.backbone == request.param
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer, cfg.adapter).eval()
    with torch.no_grad():  # non-zero B so that a wrongly routed beam row changes the outputs
        for module in adapter_modules(model.llm).values():
            for name, param in module.adapter_named_parameters():
                if "lora_B" in name:
                    param.normal_(0, 0.05)
    specs = [b.spec for b in model.branches]
    data = MultimodalDataset.from_file(cfg.data.train_file, cfg.data, tokenizer, specs, generation=True)
    return tokenizer, model, data


def batches(data, tokenizer, batch_size: int) -> list[dict]:
    loader = DataLoader(
        Subset(data, [0, 1, 2]), batch_size=batch_size, collate_fn=Collator(tokenizer.pad_token_id, "left")
    )
    return list(loader)


def generate(model, tokenizer, batch, beams: int) -> torch.Tensor:
    kwargs = dict(num_beams=beams, num_return_sequences=beams, max_new_tokens=NEW_TOKENS, do_sample=False)
    return model.generate(batch, **kwargs, pad_token_id=tokenizer.pad_token_id, eos_token_id=None)


@torch.no_grad()
def beam_search_by_hand(model, sample: dict, beams: int) -> torch.Tensor:
    """The ``beams`` best continuations by summed log-probability, best first, each step one full
    forward of the prompt + continuation (new tokens are text, modality id 0)."""
    found = [(0.0, sample["input_ids"].new_zeros((1, 0)))]
    for _ in range(NEW_TOKENS):
        candidates = []
        for score, new in found:
            longer = {
                **sample,
                "labels": None,
                "input_ids": torch.cat([sample["input_ids"], new], 1),
                "modality_ids": torch.cat([sample["modality_ids"], torch.zeros_like(new)], 1),
                "attention_mask": torch.cat([sample["attention_mask"], torch.ones_like(new)], 1),
            }
            logprobs = torch.log_softmax(model(longer)["logits"][0, -1].float(), -1)
            top = logprobs.topk(beams)
            for value, token in zip(top.values.tolist(), top.indices):
                candidates.append((score + value, torch.cat([new, token.view(1, 1)], 1)))
        found = sorted(candidates, key=lambda c: -c[0])[:beams]
    return torch.cat([new for _, new in found])


@pytest.mark.parametrize("beams", [1, 2])
def test_generate_returns_the_beams_of_a_search_over_the_models_own_forward(built, beams):
    tokenizer, model, data = built
    alone = [generate(model, tokenizer, sample, beams) for sample in batches(data, tokenizer, 1)]
    assert all(out.shape == (beams, NEW_TOKENS) for out in alone)
    for sample, out in zip(batches(data, tokenizer, 1), alone):
        assert torch.equal(out, beam_search_by_hand(model, sample, beams))
    if beams > 1:
        assert any(not torch.equal(out[0], out[1]) for out in alone)  # beams really differ
    together = generate(model, tokenizer, batches(data, tokenizer, 3)[0], beams)  # left-padded rows
    assert together.shape == (3 * beams, NEW_TOKENS) and torch.equal(together, torch.cat(alone))
