"""The tiny recipe on a tiny Qwen2.5-VL (moka_train.testing.vlm.tiny_qwen25vl_overrides) and its batches."""

from pathlib import Path

from torch.utils.data import DataLoader, Subset

from moka_train.data.collate import Collator
from moka_train.data.dataset import MultimodalDataset
from moka_train.testing.vlm import tiny_qwen25vl_overrides

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "tiny_avqa.yaml"
VIDEO_TOKENS = 8


def overrides(llm_dir: Path) -> list[str]:
    return tiny_qwen25vl_overrides(llm_dir)


def batches(cfg, tokenizer, model, padding_side: str, batch_size: int, generation: bool, n: int = 6):
    data = MultimodalDataset.from_file(
        cfg.data.train_file, cfg.data, tokenizer, [b.spec for b in model.branches], generation=generation
    )
    return list(
        DataLoader(
            Subset(data, list(range(n))),
            batch_size=batch_size,
            collate_fn=Collator(tokenizer.pad_token_id, padding_side),
        )
    )
