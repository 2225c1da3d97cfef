"""The data of one stage: tokenizer, dataset, resumable distributed sampler, DataLoader."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import DataLoader

from ..config import RunConfig
from ..config.schema import StageConfig
from ..data.collate import Collator
from ..data.dataset import MultimodalDataset, build_dataset
from ..data.sampler import GroupedDistributedSampler
from ..data.tokenize import add_placeholder_tokens
from ..modality import ModalitySpec, build_modality_specs
from ..utils.dist import rank, world_size


def load_tokenizer(cfg: RunConfig):
    """The local tokenizer with every modality placeholder added as a special token."""
    from transformers import AutoTokenizer

    key = "model.tokenizer_path" if cfg.model.tokenizer_path else "model.llm_path"
    path = Path(cfg.model.tokenizer_path or cfg.model.llm_path)
    if not path.is_dir():
        raise FileNotFoundError(f"{key}: tokenizer directory not found at {str(path)!r}")
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    # only names and placeholders matter here; token counts come from the built model
    add_placeholder_tokens(tokenizer, build_modality_specs([(m.name, m.placeholder, 1) for m in cfg.model.modalities]))
    if tokenizer.pad_token_id is None:  # LLaMA ships none; padding is masked by modality ids anyway
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


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
        loader = DataLoader(self.dataset, batch_size=self.micro_batch, sampler=self.sampler, collate_fn=self.collator,
                            num_workers=self.num_workers, drop_last=True, persistent_workers=False)
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
    dataset = build_dataset(data_cfg, tokenizer, specs, split="train")
    sampler = GroupedDistributedSampler(dataset.lengths, dataset.signatures, cfg.train.micro_batch_size,
                                        rank=rank(), world_size=world_size(), seed=data_cfg.seed,
                                        group_by_modality=data_cfg.group_by_modality)
    return StageData(dataset, sampler, Collator(tokenizer.pad_token_id), cfg.train.micro_batch_size,
                     data_cfg.num_workers)
