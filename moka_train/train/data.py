"""The data of one stage: tokenizer, dataset, resumable distributed sampler, DataLoader."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..config import RunConfig
from ..config.backbones import backbone, is_native_vision
from ..config.schema import StageConfig
from ..config.sections.data import DataConfig
from ..data.collate import Collator
from ..data.dataset import MultimodalDataset, build_dataset
from ..data.feature_cache import cache_for
from ..data.report import DataQualityError
from ..data.sampler import GroupedDistributedSampler
from ..data.transport import WorkerCollate, received
from ..modality import ModalitySpec
from ..utils.dist import rank, world_size
from .stages import stage_model_config


@dataclass
class StageData:
    dataset: MultimodalDataset
    sampler: GroupedDistributedSampler
    collator: Collator
    micro_batch: int
    num_workers: int
    # data.max_bad_fraction under bad_sample_policy skip (None under fail: the first failure raises)
    max_bad_fraction: float | None = None
    _loader: DataLoader | None = field(default=None, init=False, repr=False)

    @property
    def batches_per_epoch(self) -> int:
        return len(self.sampler) // self.micro_batch

    def loader(self, epoch: int, position: int):
        """Batches of ``epoch`` from micro-batch ``position`` on (exact mid-epoch resume)."""
        self.sampler.set_epoch(epoch)
        self.sampler.load_state_dict(
            {**self.sampler.state_dict(), "epoch": epoch, "position": position * self.micro_batch}
        )
        loader = self._data_loader()
        # a private generator: creating a DataLoader iterator draws a seed, and drawing it from the
        # global RNG would shift every dropout mask after a mid-epoch resume
        loader.generator.manual_seed(self.sampler.seed * 7919 + epoch)
        for index, batch in enumerate(map(received, loader), start=position):
            bad = batch.pop("bad_samples", [])
            self.dataset.report.update(bad)  # failures seen inside workers
            if bad and self.max_bad_fraction is not None:
                self._check_bad_fraction(epoch, index)
            yield batch

    def _data_loader(self) -> DataLoader:
        """One DataLoader for the stage: its workers persist from epoch to epoch (the dataset draws
        no random numbers, so a worker's RNG state does not matter); pinned batches on CUDA, so the
        loop's non_blocking copies are asynchronous."""
        if self._loader is None:
            self._loader = DataLoader(
                self.dataset,
                batch_size=self.micro_batch,
                sampler=self.sampler,
                collate_fn=WorkerCollate(self.collator),  # small tensors come back by value
                num_workers=self.num_workers,
                drop_last=True,
                persistent_workers=self.num_workers > 0,
                pin_memory=torch.cuda.is_available(),
                generator=torch.Generator(),
            )
        return self._loader

    def _check_bad_fraction(self, epoch: int, index: int) -> None:
        """Abort as soon as the failures met so far pass the limit, not after a whole epoch of them."""
        try:
            self.dataset.report.check(self.max_bad_fraction)
        except DataQualityError as err:
            raise DataQualityError(f"epoch {epoch}, micro-batch {index}: {err}") from None

    def report(self) -> dict:
        return self.dataset.report.to_dict()


def stage_data_config(cfg: RunConfig, stage: StageConfig):
    """data: with the stage's own file, root and template where it names them (and, where
    data.video_frames is set, the video frames of the stage's plan: the model's count is used)."""
    update = {
        k: v
        for k, v in (("train_file", stage.train_file), ("root", stage.root), ("template", stage.template))
        if v is not None
    }
    kinds = cfg.data.media_kinds
    frames = {m.frames for m in stage_model_config(cfg, stage).modalities if kinds.get(m.name) == "video"}
    if stage.media and "video_frames" in cfg.data.model_fields_set and len(frames) == 1:
        update["video_frames"] = frames.pop()
    return cfg.data.model_copy(update=update)


def stage_collator(cfg: RunConfig, data_cfg, tokenizer) -> Collator:
    """Padded batches, or packed rows of up to ``data.max_length`` laid out for the LLM's width."""
    if not data_cfg.packing:
        return Collator(tokenizer.pad_token_id)
    width = attention_width(cfg.model.llm_path) if data_cfg.packing_cost == "compute" else None
    return Collator(tokenizer.pad_token_id, packing_length=data_cfg.max_length, attention_width=width)


def attention_width(llm_path: str) -> int | None:
    """Row length at which a token's attention costs what its projections cost: about 6x the
    hidden size (4·W·d score and mix FLOPs against ~24·d² of the q/k/v/o and MLP GEMMs, whatever
    the heads). Read from the LLM's config.json; None when there is none (attention not counted)."""
    path = Path(llm_path) / "config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    hidden = config.get("hidden_size") or config.get("text_config", {}).get("hidden_size")
    return 6 * int(hidden) if hidden else None


def build_stage_data(cfg: RunConfig, stage: StageConfig, tokenizer, specs: list[ModalitySpec]) -> StageData:
    data_cfg = stage_data_config(cfg, stage)
    kind = backbone(cfg.model.backbone)
    if data_cfg.packing and not kind.packs:
        raise ValueError(kind.why_no_packing())
    return _split_data(cfg, stage, data_cfg, tokenizer, specs, split="train")


def build_eval_data(cfg: RunConfig, stage: StageConfig, tokenizer, specs: list[ModalitySpec]) -> StageData | None:
    """The held-out data of a stage (its own eval_file, else data.eval_file), in a fixed order;
    None when train.eval_every is not set."""
    if cfg.train.eval_every is None:
        return None
    data_cfg = stage_data_config(cfg, stage)
    file = stage.eval_file or data_cfg.eval_file
    if file is None:
        raise ValueError(
            f"train.eval_every={cfg.train.eval_every} but neither stages[{stage.name}].eval_file nor "
            "data.eval_file names the held-out data"
        )
    data_cfg = data_cfg.model_copy(update={"eval_file": file})
    return _split_data(cfg, stage, data_cfg, tokenizer, specs, split="eval")


def check_stage_specs(cfg: RunConfig, stage: StageConfig, specs: list[ModalitySpec]) -> None:
    """The specs the data is rendered with are the stage's plan (what its model was built from):
    a placeholder expanded to another count, or media sampled by another plan, fails here by name."""
    from ..data.specs import modality_specs

    model_cfg = stage_model_config(cfg, stage)
    # a backbone's own vision path counts its tokens with its processor (the model checks them)
    native = {m.name for m in model_cfg.modalities if is_native_vision(m.encoder.type)}
    wanted = {s.name: (s.num_tokens, s.sampling, s.accepts) for s in modality_specs(model_cfg)}
    for spec in specs:
        given, want = (spec.num_tokens, spec.sampling, spec.accepts), wanted.get(spec.name)
        if spec.name in native and want is not None:
            want = (spec.num_tokens, *want[1:])
        if given != want:
            raise ValueError(
                f"stage {stage.name!r}: modality {spec.name!r} is given {given[0]} tokens / {given[1]} / accepts "
                f"{list(given[2])}, but the stage's plan (stages[].media over model.modalities) is {want}"
            )


def _split_data(
    cfg: RunConfig, stage: StageConfig, data_cfg: DataConfig, tokenizer, specs: list[ModalitySpec], split: str
) -> StageData:
    """Dataset, sampler and collator of one split: ``train`` shuffled, ``eval`` in a fixed order."""
    check_stage_specs(cfg, stage, specs)
    cache = cache_for(stage_model_config(cfg, stage).modalities, data_cfg)
    dataset = build_dataset(data_cfg, tokenizer, specs, split=split, cache=cache)
    sampler = GroupedDistributedSampler(
        dataset.lengths,
        dataset.signatures,
        cfg.train.micro_batch_size,
        rank=rank(),
        world_size=world_size(),
        seed=data_cfg.seed,
        shuffle=split == "train",
        group_by_modality=data_cfg.group_by_modality,
        packing=data_cfg.packing,
    )
    collator = stage_collator(cfg, data_cfg, tokenizer)
    limit = data_cfg.max_bad_fraction if data_cfg.bad_sample_policy == "skip" else None
    return StageData(dataset, sampler, collator, cfg.train.micro_batch_size, data_cfg.num_workers, limit)
