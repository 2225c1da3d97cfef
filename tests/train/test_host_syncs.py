"""Device->host syncs per training step of the real loop (train.loop.train_stage) on the tiny AV
model, counted by tests/train/sync_counter.py: one per micro-step (the loss value, which the
non-finite guard must read before the backward), none from routing, splicing, the loss's answer
positions or the audio windows, which read the batch's host copies."""

from collections import Counter

import pytest
import torch
from sync_counter import SyncCounter, device_copy
from torch.utils.data import DataLoader, Subset

from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.dataset import MultimodalDataset
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.train.loop import LoopHooks, LoopSettings, LoopState, train_stage

CONFIG = __import__("pathlib").Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"
GRAD_ACCUM, STEPS = 2, 3


class CountingEngine:
    """The DeepSpeed engine's interface over a real module; its forward copies the batch 'to the
    device' (marked for the counter), as a GPU engine would receive it."""

    def __init__(self, module, counter: SyncCounter):
        self.module, self.counter, self.device = module, counter, torch.device("cpu")
        self.optimizer = torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=1e-3)
        counter.mark(*module.parameters(), *module.buffers())

    def __call__(self, batch):
        return self.module(device_copy(batch, self.counter))

    def backward(self, loss):
        loss.backward()

    def step(self):
        self.optimizer.step()
        self.optimizer.zero_grad()

    def get_lr(self):
        return [1e-3]


class Rows:
    def __init__(self):
        self.rows = []

    def log(self, step, values):
        self.rows.append(step)


@pytest.mark.parametrize("packing", [False, True])
def test_one_sync_per_micro_step(packing, workspace, monkeypatch):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    cfg = load_config(CONFIG)
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer, cfg.adapter).train()
    data = MultimodalDataset.from_file(cfg.data.train_file, cfg.data, tokenizer, [b.spec for b in model.branches])
    collate = Collator(tokenizer.pad_token_id, "right", packing_length=cfg.data.max_length if packing else None)
    batches = list(DataLoader(Subset(data, list(range(12))), batch_size=2, collate_fn=collate))  # host tensors
    counter = SyncCounter()
    engine = CountingEngine(model, counter)
    settings = LoopSettings(STEPS, ("video", "audio"), GRAD_ACCUM, 2, 1000, 3, "token")
    hooks = LoopHooks(make_loader=lambda epoch, position: iter(batches[position:]), save=lambda s: None, metrics=Rows())
    with counter:
        assert train_stage(engine, LoopState(), settings, hooks)
    micro_steps = STEPS * GRAD_ACCUM
    print(f"syncs per optimizer step (packing={packing}): {counter.total / STEPS:.2f}; {dict(counter.where)}")
    assert hooks.metrics.rows == [2, 3]
    ours = Counter()
    for where, count in counter.where.items():
        if not where.startswith("transformers/"):  # the backbone's own mask checks are counted apart
            ours[where.split(":")[0]] += count
    assert ours == {"train/loop.py": micro_steps}, counter.where  # the loss value, nothing else
