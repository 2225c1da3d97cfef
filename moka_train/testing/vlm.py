"""A tiny random Qwen2.5-VL on disk: ``Qwen2_5_VLForConditionalGeneration`` from its own config
class, its video processor and a byte-level BPE tokenizer with Qwen2.5-VL's vision tokens, all
written with ``save_pretrained`` so the tests load them back through the real loading code.

The processor keeps the real Qwen2.5-VL-7B-Instruct settings (14 px patches, 2 x 2 spatial merge,
2-frame temporal patches, min_pixels 3136, max_pixels 12845056): only the widths are tiny.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLVideoProcessor

from ..config.backbones import backbone
from ..model.vision_language import QWEN25VL_PROCESSOR as PROCESSOR
from .llm import tiny_decoder_shape
from .tokenizer import make_tiny_tokenizer

# Qwen2.5's added special tokens around and inside visual content (ids 151652-151656 in the real one)
VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")


def tiny_qwen25vl_config(tokenizer, hidden: int = 64, layers: int = 2, vision_width: int = 32) -> Qwen2_5_VLConfig:
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS + ("<|im_end|>", "<|endoftext|>")}
    head_dim = hidden // 4
    text = dict(
        **tiny_decoder_shape(len(tokenizer), hidden, layers, max_positions=4096),
        bos_token_id=None,
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 1000000.0,
            # head_dim / 2 rotary frequencies split t / h / w like the 7B's [16, 24, 24] of 64
            "mrope_section": [head_dim // 8, 3 * head_dim // 16, 3 * head_dim // 16],
        },
    )
    vision = dict(
        depth=2,
        hidden_size=vision_width,
        intermediate_size=2 * vision_width,
        num_heads=2,
        out_hidden_size=hidden,
        patch_size=PROCESSOR["patch_size"],
        spatial_merge_size=PROCESSOR["merge_size"],
        temporal_patch_size=PROCESSOR["temporal_patch_size"],
        window_size=112,
        fullatt_block_indexes=[1],
        tokens_per_second=2,
    )
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        tie_word_embeddings=False,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )


def make_tiny_qwen25vl(directory: str | Path, seed: int = 0, **config_kwargs):
    """Tokenizer, video processor and random model written to ``directory``; returns (tokenizer, model)."""
    directory = Path(directory)
    tokenizer = make_tiny_tokenizer(directory, style="qwen2")
    tokenizer.add_tokens(list(VISION_TOKENS), special_tokens=True)
    tokenizer.save_pretrained(str(directory))
    Qwen2VLVideoProcessor(**PROCESSOR).save_pretrained(str(directory))
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(tiny_qwen25vl_config(tokenizer, **config_kwargs)).float().eval()
    model.save_pretrained(str(directory))
    return tokenizer, model


def tiny_qwen25vl_overrides(llm_dir: str | Path) -> list[str]:
    """configs/tiny_avqa.yaml on the tiny Qwen2.5-VL: its own vision path for the video (4 frames of
    56 px: 2 temporal patches x 2 x 2 merged patches = 8 tokens), the tiny BEATs + Q-Former for the
    audio; stage 1 pretrains the audio projector alone (the video has none), then MokA."""
    kind = backbone("qwen2_5_vl")
    return [
        f"model.llm_path={llm_dir}",
        f"model.backbone={kind.name}",
        "model.native_frame_size=56",
        "data.image_size=56",
        "data.template=chat",
        "model.modalities=[{name: video, placeholder: <video>, frames: 4, sampling: {frame_position: centre}, "
        f"encoder: {{type: {kind.native_vision}, path: '{llm_dir}'}}}}, "
        "{name: audio, placeholder: <audio>, frames: 2, segment_seconds: 0.5, "
        "sampling: {window_placement: consecutive, time_unit: real}, "
        "encoder: {type: beats, path: '${DEMO_ROOT}/beats.pt'}, "
        "projector: {type: qformer, num_queries: 4, num_layers: 1, hidden_size: 32, num_heads: 4}}]",
        "stages=[{name: pretrain_audio, kind: pretrain_projector, modalities: [audio], epochs: 1, "
        "train_file: '${DEMO_ROOT}/data/av_qa.jsonl', optim: {lr: 1.0e-3, warmup_ratio: 0.0}}, "
        "{name: finetune, kind: moka_finetune, init_from: [pretrain_audio], epochs: 4, "
        "optim: {lr: 3.0e-3, warmup_ratio: 0.05}}]",
    ]
