"""Gradient checkpointing recomputes each layer in backward: the recompute must see the routing of
its own forward, even when another forward (same shapes, other modality positions) ran in between,
as in a pipeline schedule or a user's loop that runs two forwards before their backwards."""

import pytest
import torch
from helpers import adapted, mixed_batch

from moka_train.adapters import adapter_modules


def shifted(mod: torch.Tensor) -> torch.Tensor:
    """The same batch shape with the media and query spans moved: other routing, same [B, T]."""
    return torch.roll(mod, shifts=5, dims=1)


def setup(method: str, reentrant: bool):
    model, slot, _ = adapted(method=method)
    model.train()
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": reentrant})
    ids, mod, attention = mixed_batch(batch=2, tokens=24)
    batches = []
    for seed, routing in ((0, mod), (1, shifted(mod))):
        tokens = torch.randint(5, 500, ids.shape, generator=torch.Generator().manual_seed(seed))
        embeds = model.get_input_embeddings()(tokens)
        batches.append((embeds.detach().requires_grad_(reentrant), routing, ids))
    return model, slot, batches


def forward(model, slot, batch) -> torch.Tensor:
    embeds, routing, labels = batch
    slot.set(routing)
    return model(inputs_embeds=embeds, labels=labels, use_cache=False).loss


def grads(model) -> dict[str, torch.Tensor]:
    params = {n: p for m in adapter_modules(model).values() for n, p in m.adapter_named_parameters()}
    out = {f"{id(p)}.{n}": p.grad.clone() for n, p in params.items() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return out


@pytest.mark.parametrize("reentrant", [False, True])
@pytest.mark.parametrize("method", ["moka", "wander"])
def test_two_forwards_then_two_backwards_equal_two_separate_steps(method, reentrant):
    model, slot, batches = setup(method, reentrant)
    separate = []
    for batch in batches:  # forward, backward; forward, backward
        forward(model, slot, batch).backward()
        separate.append(grads(model))
    assert any((a - b).abs().max() > 1e-6 for a, b in zip(separate[0].values(), separate[1].values()))
    first, second = (forward(model, slot, batch) for batch in batches)  # both forwards first
    latest = slot.routing
    first.backward()  # recomputes under the first forward's routing, then puts the latest back
    assert slot.routing is latest
    together = [grads(model)]
    second.backward()
    together.append(grads(model))
    for step in range(2):
        assert together[step].keys() == separate[step].keys() and together[step]
        for name, grad in separate[step].items():
            torch.testing.assert_close(together[step][name], grad, rtol=1e-5, atol=1e-7, msg=name)
