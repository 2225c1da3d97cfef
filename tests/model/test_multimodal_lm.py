"""MultimodalLM on the tiny workspace: every module runs on every step, and batched left-padded
generation equals one-sample-at-a-time generation."""

import pytest
import torch
from torch.utils.data import DataLoader

from moka_train.adapters import adapter_modules
from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.dataset import MultimodalDataset
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model

CONFIG = __import__("pathlib").Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"


@pytest.fixture(scope="module")
def built(workspace):
    import os

    os.environ["DEMO_ROOT"] = str(workspace)
    cfg = load_config(CONFIG)
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer, cfg.adapter).eval()
    with torch.no_grad():  # non-zero B so the adapters matter
        for module in adapter_modules(model.llm).values():
            module.lora_B.normal_(0, 0.05)
    return cfg, tokenizer, model


def batches(cfg, tokenizer, model, padding_side, batch_size, generation, n=6):
    specs = [b.spec for b in model.branches]
    data = MultimodalDataset.from_file(cfg.data.train_file, cfg.data, tokenizer, specs, generation=generation)
    subset = torch.utils.data.Subset(data, list(range(n)))
    return list(DataLoader(subset, batch_size=batch_size, collate_fn=Collator(tokenizer.pad_token_id, padding_side)))


def test_batched_left_padded_generation_equals_per_sample(built):
    cfg, tokenizer, model = built
    kwargs = dict(max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=None)
    batched = batches(cfg, tokenizer, model, "left", 6, generation=True)[0]
    assert (batched["attention_mask"] == 0).any()  # the prompts really differ in length
    together = model.generate(batched, **kwargs)
    alone = torch.cat([model.generate(b, **kwargs) for b in batches(cfg, tokenizer, model, "left", 1, True)])
    assert torch.equal(together, alone)


def test_every_module_runs_when_a_modality_is_missing(built):
    cfg, tokenizer, model = built
    batch = batches(cfg, tokenizer, model, "right", 2, generation=False)[0]
    audio_ids = model.branch("audio").spec.id
    # drop the audio: its placeholder tokens become text and the media entry disappears
    batch["modality_ids"] = batch["modality_ids"].masked_fill(batch["modality_ids"] == audio_ids, 0)
    del batch["media"]["audio"]
    calls = []
    hooks = [
        m.register_forward_hook(lambda mod, i, o, name=name: calls.append(name))
        for name, m in list(model.encoders.items()) + list(model.projectors.items())
    ]
    model.train()
    out = model(batch)
    out["loss"].backward()
    for h in hooks:
        h.remove()
    model.eval()
    assert calls.count("audio") == 2 and calls.count("video") == 2  # encoder + projector each
    grads = [p.grad for p in model.projectors["audio"].parameters() if p.requires_grad]
    assert grads and all(g is not None and g.abs().sum() == 0 for g in grads)  # in the graph, zero weight


def test_frame_count_mismatch_between_data_and_model_is_named(built):
    cfg, tokenizer, model = built
    batch = batches(cfg, tokenizer, model, "right", 2, generation=False)[0]
    batch["media"]["video"] = batch["media"]["video"][:, :3]  # 3 frames, the model wants 4
    with pytest.raises(ValueError, match=r"video: the batch holds 3 frames.*expects 4"):
        model(batch)
