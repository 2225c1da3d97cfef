"""The loss on the labelled positions only (model/answer_loss.py) equals the causal LM's own loss
(full [B, T, V] fp32 logits, shifted cross-entropy, mean), loss and every gradient, for the
``sample`` and ``token`` reductions, packed and unpacked rows, the LLaMA and Qwen2.5-VL backbones;
and no tensor of B*T*V elements is saved for backward any more."""

import pytest
import torch
import torch.nn.functional as F
from qwen25vl_helpers import overrides as vlm_overrides
from torch import nn
from torch.utils.data import DataLoader, Subset

from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.dataset import MultimodalDataset
from moka_train.data.tokenize import IGNORE_INDEX
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.answer_loss import answer_loss, answer_positions
from moka_train.model.build import build_model
from moka_train.testing.vlm import make_tiny_qwen25vl
from moka_train.train.reduction import answer_tokens, loss_weights

CONFIG = __import__("pathlib").Path(__file__).resolve().parents[2] / "configs" / "tiny_avqa.yaml"


def old_forward(model, batch: dict) -> torch.Tensor:
    """The loss as MultimodalLM computed it before: the LLM's own forward with labels (all logits)."""
    embeds, zero = model.embed(batch)
    if hasattr(model, "position_ids"):  # Qwen2.5-VL: the model's own rotary index
        inputs = {"attention_mask": batch["attention_mask"], "position_ids": model.position_ids(batch)}
    elif batch.get("segment_ids") is not None:
        inputs = {"attention_mask": None, "position_ids": batch["position_ids"]}
    else:
        inputs = {"attention_mask": batch["attention_mask"]}
    model.slot.set(batch["modality_ids"], batch.get("segment_ids"))
    return model.llm(inputs_embeds=embeds, labels=batch["labels"], use_cache=False, **inputs).loss + zero


def test_answer_loss_equals_full_cross_entropy_in_chunks():
    torch.manual_seed(0)
    head = nn.Linear(16, 50, bias=False)
    hidden = torch.randn(3, 9, 16, requires_grad=True)
    labels = torch.randint(0, 50, (3, 9)).masked_fill(torch.rand(3, 9) < 0.6, IGNORE_INDEX)
    logits = head(hidden).float()
    reference = F.cross_entropy(logits[:, :-1].reshape(-1, 50), labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX)
    ref_grads = torch.autograd.grad(reference, (hidden, head.weight))
    for rows in (1, 2, 5, None):  # several chunks, one ragged, and the default (one chunk)
        ours = answer_loss(head, hidden, labels, rows=rows)
        grads = torch.autograd.grad(ours, (hidden, head.weight))
        torch.testing.assert_close(ours, reference, rtol=1e-6, atol=1e-6)
        for got, want in zip(grads, ref_grads):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    nothing = torch.full_like(labels, IGNORE_INDEX)
    assert torch.isnan(answer_loss(head, hidden, nothing))  # as the HF mean over no tokens


def _llama(workspace, monkeypatch, packing: bool):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    cfg = load_config(CONFIG)
    return cfg, load_tokenizer(cfg.model), packing


def _vlm(workspace, monkeypatch, tmp_path):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    make_tiny_qwen25vl(tmp_path / "llm", seed=0)
    cfg = load_config(CONFIG, vlm_overrides(tmp_path / "llm"))
    return cfg, load_tokenizer(cfg.model), False


def _trainable_model(cfg, tokenizer):
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer, cfg.adapter).train()
    for name, param in model.named_parameters():  # adapters (non-zero B), projectors, the output head
        param.requires_grad_(name.startswith(("projectors.", "llm.lm_head")) or "lora_" in name)
        if "lora_B" in name:
            param.data.normal_(0, 0.05)
    return model


def _micro_batches(cfg, tokenizer, model, packing: bool) -> list[dict]:
    data = MultimodalDataset.from_file(cfg.data.train_file, cfg.data, tokenizer, [b.spec for b in model.branches])
    collate = Collator(tokenizer.pad_token_id, "right", packing_length=cfg.data.max_length if packing else None)
    return list(DataLoader(Subset(data, list(range(6))), batch_size=3, collate_fn=collate))


def _step_grads(model, batches, forward, reduction):
    model.zero_grad(set_to_none=True)
    weights = loss_weights([answer_tokens(b) for b in batches], reduction, grad_accum=len(batches), ranks=1)
    losses = []
    for index, (batch, weight) in enumerate(zip(batches, weights)):
        torch.manual_seed(index)  # the same dropout masks on both paths
        loss = forward(model, batch)
        (loss * weight).backward()
        losses.append(loss.detach())
    return losses, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("backbone", ["llama", "llama_packed", "qwen25vl"])
def test_model_loss_and_gradients_equal_the_full_logits_loss(backbone, workspace, monkeypatch, tmp_path):
    if backbone == "qwen25vl":
        cfg, tokenizer, packing = _vlm(workspace, monkeypatch, tmp_path)
    else:
        cfg, tokenizer, packing = _llama(workspace, monkeypatch, backbone.endswith("packed"))
    model = _trainable_model(cfg, tokenizer)
    batches = _micro_batches(cfg, tokenizer, model, packing)
    assert packing == ("segment_ids" in batches[0])
    assert answer_tokens(batches[0]) != answer_tokens(batches[1])  # the token reduction weighs them apart
    for reduction in ("sample", "token"):
        old_losses, old_grads = _step_grads(model, batches, old_forward, reduction)
        new_losses, new_grads = _step_grads(model, batches, lambda m, b: m(b)["loss"], reduction)
        torch.testing.assert_close(new_losses, old_losses, rtol=1e-5, atol=1e-6)
        assert set(new_grads) == set(old_grads) and any(n.startswith("llm.lm_head") for n in new_grads)
        for name, grad in old_grads.items():
            # fp32 sums in another order: a few 1e-6 apart on gradients summed over many positions
            torch.testing.assert_close(new_grads[name], grad, rtol=1e-4, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")


def test_no_full_vocabulary_tensor_is_saved_for_backward(workspace, monkeypatch):
    cfg, tokenizer, _ = _llama(workspace, monkeypatch, False)
    model = _trainable_model(cfg, tokenizer)
    batch = _micro_batches(cfg, tokenizer, model, False)[0]
    full = batch["labels"].numel() * model.llm.config.vocab_size

    def largest_saved(forward) -> int:
        sizes = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: sizes.append(t.numel()) or t, lambda t: t):
            forward(model, batch)
        return max(sizes)

    assert largest_saved(old_forward) >= full  # the old path keeps [B, T, V] logits
    assert largest_saved(lambda m, b: m(b)["loss"]) < full // 4  # chunks keep hidden states, not logits


def test_a_zero3_head_is_called_once_per_forward_on_every_rank():
    """ZeRO-3 gathers a partitioned head at each call (a collective): ranks must call it alike,
    however many answer tokens each holds, none included."""
    head = nn.Linear(8, 40, bias=False)
    head.weight.ds_id = 7  # how DeepSpeed marks a ZeRO-3 parameter
    calls = []
    head.register_forward_hook(lambda *_: calls.append(1))
    hidden = torch.randn(2, 30, 8, requires_grad=True)
    for answered in (0, 1, 50):
        labels = torch.full((2, 30), IGNORE_INDEX)
        labels.view(-1)[torch.randperm(60)[:answered]] = 3
        calls.clear()
        with torch.no_grad():
            answer_loss(head, hidden, labels)
        assert len(calls) == 1, answered
    del head.weight.ds_id
    calls.clear()
    answer_loss(head, hidden, labels, rows=7)
    assert len(calls) == -(-len(answer_positions(labels)[0]) // 7) > 1  # chunks of 7 without ZeRO-3
