"""The data of one stage: tokenizer, dataset, resumable distributed sampler, DataLoader."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..config import RunConfig
from ..config.schema import StageConfig
from ..data.collate import Collator
from ..data.dataset import MultimodalDataset, build_dataset
from ..data.feature_cache import cache_for
from ..data.packing import packing_efficiency
from ..data.sampler import GroupedDistributedSampler
from ..modality import ModalitySpec
from ..utils.dist import rank, world_size


@dataclass
class StageData:
    dataset: MultimodalDataset
    sampler: GroupedDistributedSampler
    collator: Collator
    micro_batch: int
    num_workers: int

    @property
    def batches_per_epoch(self) -> int:
        return len(self.sampler) // self.micro_batch

    def loader(self, epoch: int, position: int):
        """Batches of ``epoch`` from micro-batch ``position`` on (exact mid-epoch resume)."""
        self.sampler.set_epoch(epoch)
        self.sampler.load_state_dict({**self.sampler.state_dict(), "epoch": epoch,
                                      "position": position * self.micro_batch})
        # a private generator: creating a DataLoader iterator draws a seed, and drawing it from the
        # global RNG would shift every dropout mask after a mid-epoch resume
        generator = torch.Generator().manual_seed(self.sampler.seed * 7919 + epoch)
        loader = DataLoader(self.dataset, batch_size=self.micro_batch, sampler=self.sampler, collate_fn=self.collator,
                            num_workers=self.num_workers, drop_last=True, persistent_workers=False,
                            generator=generator)
        for batch in loader:
            self.dataset.report.update(batch.pop("bad_samples", []))  # failures seen inside workers
            yield batch

    def report(self) -> dict:
        return self.dataset.report.to_dict()


def stage_data_config(cfg: RunConfig, stage: StageConfig):
    """data: with the stage's own file, root and template where it names them."""
    update = {k: v for k, v in (("train_file", stage.train_file), ("root", stage.root), ("template", stage.template))
              if v is not None}
    return cfg.data.model_copy(update=update)


def build_stage_data(cfg: RunConfig, stage: StageConfig, tokenizer, specs: list[ModalitySpec]) -> StageData:
    data_cfg = stage_data_config(cfg, stage)
    dataset = build_dataset(data_cfg, tokenizer, specs, split="train", cache=cache_for(cfg.model.modalities, data_cfg))
    if data_cfg.packing and any(m.encoder.type == "qwen2_5_vl_vision" for m in cfg.model.modalities):
        raise ValueError("data.packing: the Qwen2.5-VL backbone computes its own 3D rope positions per row; "
                         "packing is not supported there (set data.packing: false)")
    sampler = GroupedDistributedSampler(dataset.lengths, dataset.signatures, cfg.train.micro_batch_size,
                                        rank=rank(), world_size=world_size(), seed=data_cfg.seed,
                                        group_by_modality=data_cfg.group_by_modality, packing=data_cfg.packing)
    collator = Collator(tokenizer.pad_token_id, packing_length=data_cfg.max_length if data_cfg.packing else None)
    return StageData(dataset, sampler, collator, cfg.train.micro_batch_size, data_cfg.num_workers)


def packing_summary(cfg: RunConfig) -> dict | str:
    """Share of non-pad tokens in the fine-tuning stage's micro-batches, padded vs. packed
    (epoch 0's order on one rank; media token counts from the projector config); a sentence
    saying why where the data or the tokenizer cannot be read."""
    from ..data.specs import modality_specs
    from ..data.tokenizer import load_tokenizer

    stage = cfg.stages[-1]
    data_cfg = stage_data_config(cfg, stage)
    if not data_cfg.train_file or not Path(data_cfg.train_file).is_file():
        return f"unknown: no train file at {data_cfg.train_file!r}"
    try:
        tokenizer = load_tokenizer(cfg.model, data_cfg.prompt_style)
    except (FileNotFoundError, OSError) as err:
        return f"unknown: {err}"
    dataset = build_dataset(data_cfg, tokenizer, modality_specs(cfg.model), split="train")
    micro = cfg.train.micro_batch_size
    sampler = GroupedDistributedSampler(dataset.lengths, dataset.signatures, micro, seed=data_cfg.seed,
                                        group_by_modality=data_cfg.group_by_modality, packing=data_cfg.packing)
    return {"stage": stage.name, "data.packing": data_cfg.packing, "max_length": data_cfg.max_length,
            "micro_batch": micro, **packing_efficiency(dataset.lengths, sampler.rank_order(0), micro,
                                                       data_cfg.max_length)}
