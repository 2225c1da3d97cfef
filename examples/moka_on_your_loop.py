"""MokA on someone else's training loop: any Hugging Face causal LM, plain PyTorch, no moka-train trainer.

    python examples/moka_on_your_loop.py [--model HF_DIR] [--steps 30] [--out DIR]

Without ``--model`` a tiny random LLaMA is built in memory (offline). The recipe, in five lines:

    spec = AdapterSpec(method="moka", rank=4, alpha=16, modalities=("audio",))
    slot = RoutingSlot(len(spec.modalities))
    apply_adapters(model, spec, slot)          # wraps q/k/v/o/gate/up/down, freezes the rest
    slot.set(modality_ids)                     # before every forward: 0 text, 1 query text, 2 audio, -1 pad
    save_adapters(model, spec, out); load_adapters(other_model, out)
"""

from __future__ import annotations

import argparse
import json
import tempfile

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from moka_train.adapters import (
    AdapterSpec,
    RoutingSlot,
    adapter_state_dict,
    apply_adapters,
    load_adapters,
    read_adapter_spec,
    save_adapters,
)

TEXT, QUERY, AUDIO = 0, 1, 2  # modality_ids: 2.. are the non-text modalities in spec.modalities order


def load_model(path: str | None) -> torch.nn.Module:
    if path:
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    torch.manual_seed(0)
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=128,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    )


def toy_batch(model, projector: torch.nn.Module, generator: torch.Generator, batch: int = 4) -> dict:
    """Your data: 6 "audio" feature vectors projected into the LLM, a question, an answer that
    depends on the audio (its sign). Returns inputs_embeds, labels and the routing ids."""
    vocab = model.config.vocab_size
    features = torch.randn(batch, 6, 16, generator=generator)  # stand-in for your encoder's output
    question = torch.randint(10, vocab, (batch, 5), generator=generator)
    answer = torch.where(features.mean(dim=(1, 2)) > 0, 3, 4)[:, None]  # token 3 or 4
    ids = torch.cat([question[:, :1], torch.zeros(batch, 6, dtype=torch.long), question, answer], dim=1)
    embeds = model.get_input_embeddings()(ids)
    embeds = torch.cat([embeds[:, :1], projector(features), embeds[:, 7:]], dim=1)  # media spliced in
    modality_ids = torch.tensor([TEXT] + [AUDIO] * 6 + [QUERY] * 5 + [TEXT])[None].expand(batch, -1)
    labels = torch.full_like(ids, -100)
    labels[:, -1] = answer[:, 0]
    return {"inputs_embeds": embeds, "labels": labels, "modality_ids": modality_ids}


def train(model, slot: RoutingSlot, projector, steps: int, lr: float = 3e-3) -> list[float]:
    """An ordinary loop: the only MokA-specific line is slot.set(modality_ids) before the forward."""
    params = [p for p in model.parameters() if p.requires_grad] + list(projector.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr)
    generator, losses = torch.Generator().manual_seed(1), []
    model.train()
    for _ in range(steps):
        batch = toy_batch(model, projector, generator)
        slot.set(batch["modality_ids"])
        loss = model(inputs_embeds=batch["inputs_embeds"], labels=batch["labels"]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def reload_and_compare(
    model, slot: RoutingSlot, spec: AdapterSpec, projector, model_path: str | None, directory: str
) -> float:
    """Save the adapter, load it into a fresh copy of the base model, and compare logits."""
    save_adapters(model, spec, directory)
    fresh, fresh_slot = load_model(model_path), RoutingSlot(len(spec.modalities))
    apply_adapters(fresh, read_adapter_spec(directory), fresh_slot)
    load_adapters(fresh, directory)  # strict: a missing or extra key is an error naming it
    batch = toy_batch(model, projector, torch.Generator().manual_seed(2))
    with torch.no_grad():
        outs = []
        for m, routing in ((model.eval(), slot), (fresh.eval(), fresh_slot)):
            routing.set(batch["modality_ids"])
            outs.append(m(inputs_embeds=batch["inputs_embeds"]).logits)
    return (outs[0] - outs[1]).abs().max().item()


def run(model_path: str | None = None, steps: int = 30, out: str | None = None) -> dict:
    model = load_model(model_path)
    spec = AdapterSpec(method="moka", rank=4, alpha=16, dropout=0.0, modalities=("audio",), temperature="official")
    slot = RoutingSlot(len(spec.modalities))
    replaced = apply_adapters(model, spec, slot)
    frozen_before = model.lm_head.weight.detach().clone()
    projector = torch.nn.Linear(16, model.config.hidden_size)
    losses = train(model, slot, projector, steps)
    with tempfile.TemporaryDirectory() as tmp:
        difference = reload_and_compare(model, slot, spec, projector, model_path, out or tmp)
    return {
        "adapted_layers": len(replaced),
        "adapter_tensors": len(adapter_state_dict(model)),
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "reload_max_abs_diff": difference,
        "base_unchanged": bool(torch.equal(frozen_before, model.lm_head.weight)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a local Hugging Face causal LM directory (default: a tiny random LLaMA)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", help="where to save the adapter (default: a temporary directory)")
    args = parser.parse_args()
    print(json.dumps(run(args.model, args.steps, args.out)))


if __name__ == "__main__":
    main()
