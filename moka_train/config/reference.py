"""The config reference, generated from the schema: every key, its type and its default."""

from __future__ import annotations

import inspect
import typing

from pydantic import BaseModel

from .load import _section_type
from .schema import RunConfig


def _type_name(annotation) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation).replace("typing.", "")
    return text.replace("moka_train.config.sections.", "").replace("|", "or")


# meanings of the keys whose schema line carries no comment (one line each; a test fails on an empty one)
MEANINGS = {
    "output_dir": "directory of the run: config.yaml, metrics.jsonl, checkpoints/, export/<stage>/, predictions/",
    "model": "the multimodal model: LLM, per-modality encoders and projectors",
    "model.dtype": "dtype the frozen LLM and encoders are loaded in (the trained parts follow the precision)",
    "model.modalities": "one entry per modality the model reads (video, audio, image, speech, ...)",
    "model.modalities[i].name": "the modality's name: the record key of its media file and its adapter branch",
    "model.modalities[i].encoder": "the frozen encoder of this modality",
    "model.modalities[i].encoder.type": "encoder family: clip_hf / clip_open_clip (images, video), beats (audio), "
    "whisper (speech), qwen2_5_vl_vision (the backbone's own vision path)",
    "model.modalities[i].encoder.frozen": "false trains the encoder with the stage's projector",
    "model.modalities[i].projector": "maps encoder features to LLM embeddings (placeholder tokens)",
    "model.modalities[i].projector.type": "qformer (learned queries, the paper's) or mlp (keeps every encoder token)",
    "model.modalities[i].projector.num_layers": "transformer layers of the Q-Former, or linear layers of the MLP",
    "model.modalities[i].projector.num_heads": "attention heads of the Q-Former",
    "model.modalities[i].sampling": "where frames / audio windows are taken in a clip (see the sampling keys)",
    "model.gradient_checkpointing": "recompute the LLM's activations in backward: less memory, more compute",
    "adapter": "the low-rank adapters on the LLM's linear layers (MokA and the paper's baselines)",
    "adapter.rank": "r, the rank of every A and B (the paper: 4)",
    "adapter.alpha": "scaling numerator: the update is (alpha / rank) * B A x",
    "adapter.dropout": "dropout on the adapter's input",
    "adapter.targets": "names of the LLM linear layers that get an adapter",
    "data": "training and evaluation data: files, prompt template and sample rules",
    "data.eval_file": "held-out JSONL (train.eval_every reads it; infer/evaluate default to it)",
    "data.system_prompt": "system turn of every sample without its own (null: none)",
    "data.max_length": "tokens per sample after placeholder expansion; longer samples follow data.overlength",
    "data.multi_turn": "joint: one sample trains every answer turn; split: one sample per turn, as the VT code",
    "data.overlength": "a sample over data.max_length: drop (counted in the data report) or fail",
    "data.bad_sample_policy": "an unreadable or malformed sample: skip (reported) or fail (stop naming it)",
    "data.max_bad_fraction": "skip policy: abort when more than this share of the samples is bad",
    "data.image_size": "square side images and video frames are resized to (the encoder's input)",
    "data.media_lead_in": "regex of the lead-in before a placeholder ('This is a video:'), left out of the query",
    "train": "optimisation, checkpoints, logging and DeepSpeed",
    "train.seed": "seed of initialisation, dropout and sampling order (resume checks it)",
    "train.micro_batch_size": "samples per rank per forward",
    "train.grad_accum": "micro-batches per optimizer step (derived from train.global_batch_size where set)",
    "train.log_every": "optimizer steps between metrics.jsonl rows (the last step is always logged)",
    "train.save_every": "optimizer steps between checkpoints (plus one at the end of each stage)",
    "train.keep_last": "checkpoints kept in output_dir/checkpoints (older ones deleted)",
    "train.max_nonfinite_in_row": "consecutive steps with a non-finite loss or gradient skipped before the run stops",
    "train.wandb_mode": "Weights & Biases logging: offline (files only), online, or disabled",
    "train.deepspeed": "DeepSpeed engine settings (ZeRO stage, offload, precision)",
    "train.deepspeed.zero_stage": "ZeRO stage: 0 none, 1 optimizer states, 2 + gradients, 3 + parameters sharded",
    "train.deepspeed.offload_optimizer": "keep optimizer states in CPU memory (DeepSpeed's CPU Adam, a C++ op)",
    "train.deepspeed.offload_param": "ZeRO-3: keep parameters in CPU memory",
    "train.deepspeed.extra": "DeepSpeed config keys merged over the generated config (after config_file)",
    "stages": "the training stages, run in order (each exports its trained weights)",
    "stages[i].name": "the stage's name: its export directory, checkpoint prefix and init_from handle",
    "stages[i].kind": "pretrain_projector (projectors only) or moka_finetune (adapters, and chosen projectors)",
    "stages[i].template": "this stage's prompt template (default data.template; plain for stage-1 captions)",
    "stages[i].epochs": "passes over the stage's data (a fraction stops part-way)",
    "stages[i].optim": "the stage's optimizer and LR schedule",
    "stages[i].optim.lr": "peak learning rate",
    "stages[i].optim.weight_decay": "AdamW weight decay",
    "stages[i].optim.betas": "AdamW (beta1, beta2)",
    "stages[i].optim.warmup_ratio": "share of the stage's optimizer steps spent warming the LR up",
    "stages[i].optim.grad_clip": "gradient norm clipped to this (0: no clipping)",
}


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    comments = _field_comments(model)
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = _section_type(field.annotation)
        default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
        if nested is not None:
            origin = typing.get_origin(field.annotation)
            is_list, is_map = origin in (tuple, list), origin is dict
            kind = "list of sections" if is_list else "map of sections" if is_map else "section"
            rows.append((key, kind, "", comments.get(name) or MEANINGS.get(key, "")))
            rows += _rows(nested, f"{key}[i]." if is_list else f"{key}.<name>." if is_map else f"{key}.")
        else:
            rows.append((key, _type_name(field.annotation), default, comments.get(name) or MEANINGS.get(key, "")))
    return rows


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Each field's comment in the section's source: the trailing `# ...` of its line, else the
    `#` lines right above it (joined into one line)."""
    comments, above = {}, []
    for line in inspect.getsource(model).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        head, _, comment = line.partition("  # ")
        name = head.strip().split(":")[0]
        if name.isidentifier() and ":" in head:
            text = comment.strip() or " ".join(above)
            if text:
                comments[name] = text
        above = []
    return comments


def config_reference() -> str:
    lines = [
        "# Config reference",
        "",
        "Generated from `moka_train/config/schema.py` by "
        "`python scripts/config_reference.py`; a test keeps it in sync.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for key, kind, default, comment in _rows(RunConfig, ""):
        lines.append(f"| `{key}` | {kind} | {default.replace('|', '/')} | {comment.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
