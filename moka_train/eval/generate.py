"""Batched generation from an export (what `moka-train infer` and `evaluate run` call).

Left padding keeps modality ids aligned with their tokens; the attention mask is passed through
(pads are never attended); greedy by default, the official decoding on request (``.decoding``).
Writes one JSON line per sample:
``{"id", "prediction", "raw_prediction", "generated_tokens", "prompt", ...record fields}``, or,
for a sample whose media cannot be read or whose prompt cannot be rendered, an error row
``{"id", "error", "detail", ...record fields}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..config import RunConfig
from ..data.collate import Collator
from ..data.dataset import MultimodalDataset, read_entries
from ..data.feature_cache import cache_for
from ..data.question import Media, Question, QuestionError, question_sample
from ..data.records import Sample
from ..data.templates import END_OF_TURN_TOKENS
from ..data.tokenize import vocab_id
from ..data.tokenizer import load_tokenizer
from ..utils.logging import get_logger
from .decoding import GREEDY, Decoding

log = get_logger(__name__)


def load_for_inference(cfg: RunConfig, export_dir: str | Path, fold: bool = True):
    """Tokenizer + model with adapters in eval mode, every role of the export loaded strictly.

    ``fold``: fold the adapters' text path into W0 where the method allows it, so that decode
    steps cost what a merged LoRA costs (prefill still runs the full method; same tokens).
    """
    from ..adapters import adapter_modules, fold_text_path
    from ..model.build import build_model
    from ..model.export import load_export

    tokenizer = load_tokenizer(cfg.model, cfg.data.prompt_style)
    model = build_model(cfg.model, tokenizer, cfg.adapter)
    loaded = load_export(model, export_dir)
    log.info("loaded %s from %s", loaded, export_dir)
    model.eval()
    modules = adapter_modules(model).values()
    if fold and modules and all(m.foldable for m in modules):
        fold_text_path(model)
        log.info("adapter text path folded into the base weights for decoding")
    return tokenizer, model


def eval_dataset(cfg: RunConfig, tokenizer, model, source: str | Path | Sequence[Sample]) -> MultimodalDataset:
    """Prompts only (no answers rendered), multi-turn kept whole, cached features where present;
    ``source``: a JSONL file, or samples built in memory."""
    data_cfg = cfg.data.model_copy(update={"multi_turn": "joint"})
    specs = [b.spec for b in model.branches]
    return MultimodalDataset(
        read_entries(source, data_cfg, specs) if isinstance(source, (str, Path)) else source,
        data_cfg,
        tokenizer,
        specs,
        split="eval",
        generation=True,
        cache=cache_for(cfg.model.modalities, data_cfg),
    )


def answer_batches(
    model, tokenizer, dataset, batch_size: int = 8, max_new_tokens: int = 32, decoding: Decoding = GREEDY
):
    """Answers (greedy unless ``decoding`` says otherwise), one list of rows per left-padded batch,
    in the dataset's order; a sample whose media could not be read gets an error row in its place
    (never another sample's answer)."""
    collate = Collator(tokenizer.pad_token_id, padding_side="left")
    stops = stop_ids(tokenizer)
    device = next(model.parameters()).device
    for items in DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=list):
        good = [it for it in items if "error" not in it]
        answers = iter([])
        if good:
            with decoding.seeded(good[0]["id"], device):
                answers = iter(answer(model, tokenizer, collate(good), max_new_tokens, stops, decoding))
        yield [error_row(it["id"], it["meta"], it["error"]) if "error" in it else next(answers) for it in items]


def answer(
    model, tokenizer, batch: dict, max_new_tokens: int, stops: list[int], decoding: Decoding = GREEDY
) -> list[dict]:
    """``prediction``: the clean answer; ``raw_prediction``: the same tokens, up to and including
    the first stop token, decoded with special tokens kept as the official scripts decoded and
    parsed them ("A </s>", :func:`official_raw_text`); ``generated_tokens``: how many that is
    (equal to the budget: the answer was cut short)."""
    new = model.generate(
        batch,
        max_new_tokens=max_new_tokens,
        eos_token_id=stops,
        pad_token_id=tokenizer.pad_token_id,
        **decoding.generate_kwargs(),
    )
    kept = until_stop(new, stops)
    clean = tokenizer.batch_decode(kept, skip_special_tokens=True)
    raw = [official_raw_text(tokenizer, tokens) for tokens in kept]
    # the prompt as the model saw it (template and placeholders are special tokens, left out)
    prompts = tokenizer.batch_decode(batch["input_ids"], skip_special_tokens=True)
    return [
        {
            **meta,
            "id": sample_id,
            "prompt": prompt.strip(),
            "prediction": text.strip(),
            "raw_prediction": raw_text,
            "generated_tokens": len(tokens),
        }
        for sample_id, meta, prompt, text, raw_text, tokens in zip(
            batch["ids"], batch["meta"], prompts, clean, raw, kept
        )
    ]


def official_raw_text(tokenizer, ids: list[int]) -> str:
    """The text with special tokens kept, as the official scripts' decoding gave it: added tokens
    stand apart, joined to the text around them by one space ("A </s>", not "A</s>").

    That is the slow tokenizers' ``spaces_between_special_tokens`` rule of the transformers the
    official code ran on; the official MMBench/SEED parsers depend on that space (they look for
    ``'a '``), and today's fast tokenizers no longer insert it.
    """
    added = tokenizer.added_tokens_decoder
    pieces, run = [], []
    for token in ids:
        if token in added:
            pieces += [tokenizer.decode(run)] if run else []
            pieces.append(str(added[token]))
            run = []
        else:
            run.append(token)
    return " ".join(pieces + ([tokenizer.decode(run)] if run else []))


def until_stop(new: torch.Tensor, stops: list[int]) -> list[list[int]]:
    """Each row's tokens up to and including its first stop token (what follows is padding)."""
    is_stop = torch.isin(new, torch.tensor(stops, device=new.device)).long()
    past_first_stop = (is_stop.cumsum(dim=1) - is_stop) > 0
    lengths = (~past_first_stop).sum(dim=1).tolist()
    return [row[:n] for row, n in zip(new.tolist(), lengths)]


def error_row(sample_id: str, meta: dict, error: dict) -> dict:
    """The row of a sample nothing could be generated for: the record's fields, the reason and detail."""
    row = {**meta, "id": sample_id, "error": error["reason"], "detail": error.get("detail", "")}
    return {**row, "file": error["file"]} if error.get("file") else row


def rejected_rows(dataset: MultimodalDataset) -> list[dict]:
    """Error rows of the samples the dataset could not prompt at all (no question, over-length, ...)."""
    return [
        error_row(sample.id, {**sample.media, **sample.meta}, {"reason": reason, "detail": detail})
        for sample, reason, detail in dataset.rejected
    ]


def generate_predictions(
    cfg: RunConfig,
    tokenizer,
    model,
    source: str | Path | Sequence[Sample],
    batch_size: int = 8,
    max_new_tokens: int = 32,
) -> list[dict]:
    """One row per input sample (of a JSONL file, or in memory), in the input's order: answers
    and error rows."""
    dataset = eval_dataset(cfg, tokenizer, model, source)
    rows = [row for rows in answer_batches(model, tokenizer, dataset, batch_size, max_new_tokens) for row in rows]
    rows += rejected_rows(dataset)
    position = {sample_id: i for i, sample_id in reversed(list(enumerate(dataset.read_order)))}
    return sorted(rows, key=lambda r: position[r["id"]])


def stop_ids(tokenizer) -> list[int]:
    """eos plus the chat templates' end-of-turn tokens that exist in this vocabulary."""
    ids = {tokenizer.eos_token_id} | {vocab_id(tokenizer, t) for t in END_OF_TURN_TOKENS}
    return sorted(i for i in ids if i is not None)


def answer_question(cfg: RunConfig, tokenizer, model, media: dict[str, str], question: str) -> dict:
    """One question about local media files (``{"video": path, ...}``), in the one prompt form of
    :mod:`moka_train.data.question` (as the server and the lmms-eval plugin ask it), answered in
    memory: the answer row, or an error row when the media cannot be read."""
    asked = Question([("user", question)], {name: Media(path=Path(path)) for name, path in media.items()})
    try:
        sample = question_sample(asked, "question", [b.spec for b in model.branches])
    except QuestionError as err:  # a missing file, a modality the model lacks: no answer, said why
        return error_row("question", {}, {"reason": "bad_question", "detail": str(err)})
    with torch.no_grad():
        return generate_predictions(cfg, tokenizer, model, [sample])[0]
