"""Fill the feature cache: run each frozen encoder once over every media file of a recipe's data.

    python data_prep/cache_features.py --config configs/avqa_llama3.yaml [overrides]

Training and evaluation then read the cached features instead of decoding and encoding (see
moka_train/data/feature_cache.py); files whose entry exists and verifies are skipped, so an
interrupted pass resumes where it stopped.
"""

from __future__ import annotations

from collections import Counter

import torch

from ..config import RunConfig
from ..data.feature_cache import cache_for
from ..data.media import MediaError, MediaLimits, load_media
from ..data.records import read_jsonl
from ..encoders.registry import build_encoder
from ..model.build import DTYPES
from ..model.multimodal_lm import audio_windows, encode_media
from ..utils.logging import get_logger
from .data import stage_data_config
from .stages import stage_model_config

log = get_logger(__name__)


def data_files(cfg: RunConfig) -> list[tuple[str, object, tuple]]:
    """(JSONL, data config, frozen modalities of the stage's plan) of every stage and of the
    evaluation file, without repeats: a stage with its own media plan caches under its own key."""
    seen, out = set(), []
    for stage in cfg.stages:
        data_cfg = stage_data_config(cfg, stage)
        modalities = tuple(m for m in stage_model_config(cfg, stage).modalities if m.encoder.frozen)
        for file in (data_cfg.train_file, cfg.data.eval_file):
            if file and (file, modalities) not in seen:
                seen.add((file, modalities))
                out.append((file, data_cfg, modalities))
    return out


@torch.no_grad()
def fill_feature_cache(cfg: RunConfig) -> dict:
    if cfg.data.feature_cache is None:
        raise ValueError("data.feature_cache is not set: name the cache directory")
    modalities = {m.name: m for m in cfg.model.modalities if m.encoder.frozen}
    # in model.dtype, as training and evaluation run them (model/build.py)
    encoders = {
        name: build_encoder(m.encoder, key=f"model.modalities[{i}].encoder").to(DTYPES[cfg.model.dtype])
        for i, (name, m) in enumerate(modalities.items())
    }
    counts: Counter = Counter()
    done: set = set()  # entries met in this pass: a file several samples or files share counts once
    for file, data_cfg, plans in data_files(cfg):
        cache, plan = cache_for(list(plans), data_cfg), {m.name: m for m in plans}
        for sample in read_jsonl(file, tuple(data_cfg.media_kinds)):
            for key, path in sample.media_paths(data_cfg.root).items():
                name = next((m.name for m in plans if key in m.accepts), key)  # an accepted image: its modality
                entry = (cache.identities.get(name), name, path)  # the entry this file is stored under
                if name in encoders and entry not in done:
                    done.add(entry)
                    counts[_cache_one(cache, encoders[name], plan[name], data_cfg, key, path, sample.id)] += 1
    log.info("feature cache %s: %s", cfg.data.feature_cache, dict(counts))
    return dict(counts)


def _cache_one(cache, encoder, modality, data_cfg, key: str, path, sample_id: str) -> str:
    """One file of record key ``key`` (decoded as that key's kind) cached for ``modality``."""
    name = modality.name
    if not path.is_file():
        return "missing_media"
    if cache.load(name, path) is not None:
        return "already_cached"
    try:
        raw = load_media(
            data_cfg.media_kinds[key],
            path,
            sample_id,
            frames=data_cfg.video_frames,
            size=data_cfg.image_size,
            max_seconds=data_cfg.audio_max_seconds,
            plan=modality.sampling_plan(),
            limits=MediaLimits.from_data(data_cfg),
        )
    except MediaError as err:
        log.warning("not cached: %s", err)
        return "unreadable_media"
    if raw.dim() == 1:  # a waveform: the modality's windows, exactly as the model cuts them
        plan = modality.sampling_plan()
        ((_, raw),) = audio_windows(raw[None], None, plan, plan.count, plan.nominal_width())
    else:
        raw = raw[None]
    feats = encode_media(encoder, raw, modality.frames, name)[0]  # [F, L, D]
    cache.store(name, path, feats)
    return "written"
