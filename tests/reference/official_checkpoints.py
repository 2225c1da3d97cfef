"""Official MokA checkpoint files in miniature: the key names and shapes the official modules
define (AudioVisualText/models/multimodal_encoder.py + Qformer.py, peft_hyper/tuners/lora.py,
VisualText/modified_peft/tuners/lora/layer.py), with random values, saved as the official scripts
save them (torch.save of a state dict; the visual-text model as model.safetensors)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

TARGETS = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)


def qformer_shapes(
    stem: str,
    in_dim: int,
    hidden: int,
    layers: int,
    queries: int,
    d_model: int,
    vocab: int = 30,
    max_positions: int = 16,
) -> dict[str, tuple[int, ...]]:
    """VLProjector / ALProjector named_parameters (what the official scripts save): BertLMHeadModel
    with cross-attention in every layer (cross_attention_freq=1, encoder_width=in_dim),
    intermediate = 4 x hidden; the LM head's decoder is tied to the word embeddings."""
    inter, q = 4 * hidden, f"{stem}_Qformer."
    shapes = {
        f"{stem}_ln.weight": (in_dim,),
        f"{stem}_ln.bias": (in_dim,),
        f"{stem}_query_tokens": (1, queries, hidden),
        f"{stem}_proj.0.weight": (d_model, hidden),
        f"{stem}_proj.0.bias": (d_model,),
        f"{stem}_proj.2.weight": (d_model, d_model),
        f"{stem}_proj.2.bias": (d_model,),
        q + "bert.embeddings.word_embeddings.weight": (vocab, hidden),
        q + "bert.embeddings.position_embeddings.weight": (max_positions, hidden),
        q + "bert.embeddings.LayerNorm.weight": (hidden,),
        q + "bert.embeddings.LayerNorm.bias": (hidden,),
        q + "cls.predictions.bias": (vocab,),
        q + "cls.predictions.transform.dense.weight": (hidden, hidden),
        q + "cls.predictions.transform.dense.bias": (hidden,),
        q + "cls.predictions.transform.LayerNorm.weight": (hidden,),
        q + "cls.predictions.transform.LayerNorm.bias": (hidden,),
    }
    for n in range(layers):
        layer = f"{q}bert.encoder.layer.{n}."
        for att, width in (("attention", hidden), ("crossattention", in_dim)):
            for p, w in (("query", hidden), ("key", width), ("value", width)):
                shapes[f"{layer}{att}.self.{p}.weight"], shapes[f"{layer}{att}.self.{p}.bias"] = (hidden, w), (hidden,)
            shapes[f"{layer}{att}.output.dense.weight"], shapes[f"{layer}{att}.output.dense.bias"] = (
                (hidden, hidden),
                (hidden,),
            )
            shapes[f"{layer}{att}.output.LayerNorm.weight"] = shapes[f"{layer}{att}.output.LayerNorm.bias"] = (hidden,)
        for ffn in ("", "_query"):
            shapes[f"{layer}intermediate{ffn}.dense.weight"], shapes[f"{layer}intermediate{ffn}.dense.bias"] = (
                (inter, hidden),
                (inter,),
            )
            shapes[f"{layer}output{ffn}.dense.weight"], shapes[f"{layer}output{ffn}.dense.bias"] = (
                (hidden, inter),
                (hidden,),
            )
            shapes[f"{layer}output{ffn}.LayerNorm.weight"] = shapes[f"{layer}output{ffn}.LayerNorm.bias"] = (hidden,)
    return shapes


def random_tensors(shapes: dict[str, tuple[int, ...]], seed: int, prefix: str = "") -> dict[str, torch.Tensor]:
    """Random values; LayerNorm weights near 1 so the Q-Former's outputs stay informative."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in shapes.items():
        t = torch.randn(shape, generator=g) * 0.2
        out[prefix + name] = t + 1.0 if name.endswith(("LayerNorm.weight", "_ln.weight")) else t
    return out


def lora_shapes(llm, rank: int, slots: list[str], b_name: str, prefix: str) -> dict[str, tuple[int, ...]]:
    """One ``{prefix}layers.N.<target>.<slot>`` A [r, in] per slot and one B [out, r] per target
    (nn.Linear(in, r) and nn.Linear(r, out) weights) for every decoder layer of ``llm``."""
    shapes = {}
    for n, layer in enumerate(llm.model.layers):
        for target in TARGETS:
            linear = layer.get_submodule(target)
            for slot in slots:
                shapes[f"{prefix}layers.{n}.{target}.{slot}.weight"] = (rank, linear.in_features)
            shapes[f"{prefix}layers.{n}.{target}.{b_name}.weight"] = (linear.out_features, rank)
    return shapes


def write_avt_checkpoint(
    directory: Path, llm, cfg_dims: dict, rank: int = 4, seed: int = 0, peft_config: dict | None = None
) -> dict[str, dict[str, torch.Tensor]]:
    """AVQA_checkpoint/ as finetune.py writes it: adapter_model.bin (PeftModel named_parameters with
    ``lora_``), non_lora_trainables.bin (both projectors under base_model.model.model.)."""
    directory.mkdir(parents=True, exist_ok=True)
    adapter = random_tensors(
        lora_shapes(llm, rank, ["lora_A0", "lora_A1", "lora_A2"], "lora_B0", "base_model.model.model."), seed
    )
    projectors = {}
    for part, stem, dims in (
        ("vl_projector", "visual", cfg_dims["video"]),
        ("al_projector", "audio", cfg_dims["audio"]),
    ):
        projectors.update(
            random_tensors(qformer_shapes(stem, **dims), seed + 1 + len(projectors), f"base_model.model.model.{part}.")
        )
    torch.save(adapter, directory / "adapter_model.bin")
    torch.save(projectors, directory / "non_lora_trainables.bin")
    if peft_config is not None:
        (directory / "adapter_config.json").write_text(json.dumps(peft_config))
    return {"adapter": adapter, "projectors": projectors}


def write_stage1_file(path: Path, part: str, stem: str, dims: dict, vocab: int, width: int, seed: int = 5):
    """audio_pretrain.bin / visual_pretrain.bin as pretrain.py writes them."""
    tensors = random_tensors(qformer_shapes(stem, **dims), seed, f"model.{part}.")
    tensors["model.embed_tokens.weight"] = torch.randn(vocab, width)
    torch.save(tensors, path)
    return tensors


def write_vt_checkpoint(directory: Path, llm, dims: dict, rank: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """VisualText output: the whole PeftMixedModel (adapters 'image' and 'text') as model.safetensors."""
    directory.mkdir(parents=True, exist_ok=True)
    prefix = "base_model.model.model.language_model."
    tensors = random_tensors(lora_shapes(llm, rank, ["lora_A.image", "lora_A.text"], "lora_B.text", prefix), seed)
    tensors.update(
        {
            k.replace("lora_B.text", "lora_B.image"): torch.zeros_like(v)
            for k, v in tensors.items()
            if "lora_B.text" in k
        }
    )
    for name, param in llm.named_parameters():  # the frozen LLaMA, base_layer under each adapted Linear
        name = name.removeprefix("model.")
        for target in TARGETS:
            name = name.replace(f"{target}.weight", f"{target}.base_layer.weight")
        key = "base_model.model.lm_head.weight" if name == "lm_head.weight" else prefix + name
        tensors[key] = param.detach().clone()
    tensors.update(
        random_tensors(qformer_shapes("visual", **dims), seed + 1, "base_model.model.model.multi_modal_projector.")
    )
    tensors["base_model.model.model.multi_modal_projector.visual_Qformer.bert.embeddings.position_ids"] = torch.arange(
        dims.get("max_positions", 16)
    )[None]
    tensors["base_model.model.model.vision_tower.vision_model.post_layernorm.weight"] = torch.ones(8)
    save_file(tensors, str(directory / "model.safetensors"))
    return tensors


def official_stripped(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def hook_official_lora(
    llm,
    tensors: dict[str, torch.Tensor],
    prefix: str,
    slots: list[str],
    b_name: str,
    modality_ids: torch.Tensor,
    scale: float,
    weight: float,
    temperature: str,
) -> list:
    """Add, on every targeted Linear of a plain (un-adapted) ``llm``, the delta of the official
    layer computed by the reference oracle from the official tensors themselves."""
    from moka_train.testing.reference_moka import reference_moka_delta

    handles = []
    for n, layer in enumerate(llm.model.layers):
        for target in TARGETS:
            name = f"{prefix}layers.{n}.{target}."
            A = [tensors[f"{name}{slot}.weight"] for slot in slots]
            B = tensors[f"{name}{b_name}.weight"]

            def hook(module, args, out, A=A, B=B):
                return out + reference_moka_delta(args[0], modality_ids, A, B, scale, weight, temperature)

            handles.append(layer.get_submodule(target).register_forward_hook(hook))
    return handles
