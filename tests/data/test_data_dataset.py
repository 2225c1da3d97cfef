"""The dataset: bad samples skipped and counted (report names the file) or failing by policy,
paths confined to the root, over-length never truncated, raw media returned per modality."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from data_helpers import write_jsonl

from moka_train.config.sections.data import DataConfig
from moka_train.data.dataset import BadSampleError, MultimodalDataset
from moka_train.data.report import DataQualityError
from moka_train.data.tokenize import IGNORE_INDEX, add_placeholder_tokens
from moka_train.utils.paths import UnsafePathError


@pytest.fixture
def root(synthetic_root, tmp_path):
    """A private copy of the synthetic root, so a test may corrupt files."""
    return shutil.copytree(synthetic_root, tmp_path / "root")


def av_rows(root, n=None):
    rows = [json.loads(line) for line in (root / "av_qa.jsonl").read_text().splitlines()]
    return rows[:n] if n else rows


def make(root, rows, load_tokenizer, specs, **cfg):
    file = write_jsonl(root / "train.jsonl", rows)
    data = DataConfig(root=str(root), train_file=str(file), video_frames=4, image_size=32, **cfg)
    tokenizer = load_tokenizer("llama3")
    add_placeholder_tokens(tokenizer, specs)  # no-op for the fixture's specs
    return MultimodalDataset.from_file(file, data, tokenizer, specs)


def test_item_has_tokens_and_raw_media(root, load_tokenizer, specs):
    ds = make(root, av_rows(root, 2), load_tokenizer, specs)
    item = ds[0]
    assert item["media"]["video"].shape == (4, 32, 32, 3) and item["media"]["video"].dtype == torch.uint8
    assert item["media"]["audio"].dtype == torch.float32 and item["media"]["audio"].numel() == 16000
    assert (item["modality_ids"] == specs[0].id).sum() == specs[0].num_tokens
    assert ds.lengths[0] == item["input_ids"].numel() and ds.signatures == ["audio+video"] * 2


def test_corrupt_video_is_skipped_counted_and_named(root, load_tokenizer, specs, tmp_path):
    rows = av_rows(root, 4)
    bad = root / rows[1]["video"]
    bad.write_bytes(b"\x00garbage, not an mp4" * 50)
    ds = make(root, rows, load_tokenizer, specs, max_bad_fraction=0.5)
    item = ds[1]  # replaced by the next readable sample, so batches keep their size
    assert item["id"] == rows[2]["id"]
    assert [b["id"] for b in item["bad_samples"]] == [rows[1]["id"]]
    assert ds.report.counts == {"unreadable_media": 1}
    written = json.loads(ds.report.write(tmp_path / "data_report.json").read_text())
    entry = written["bad"]["unreadable_media"][0]
    assert entry["file"] == str(bad) and entry["id"] == rows[1]["id"]
    ds[1]  # met again next epoch: still counted once
    assert ds.report.num_bad == 1


def test_corrupt_video_fails_naming_file_and_sample(root, load_tokenizer, specs):
    rows = av_rows(root, 2)
    (root / rows[0]["video"]).write_bytes(b"garbage" * 100)
    ds = make(root, rows, load_tokenizer, specs, bad_sample_policy="fail")
    with pytest.raises(Exception, match=rf"sample {rows[0]['id']}: cannot read .*{rows[0]['video']}"):
        ds[0]


def test_missing_media_file_is_named(root, load_tokenizer, specs):
    rows = av_rows(root, 2)
    (root / rows[0]["audio"]).unlink()
    ds = make(root, rows, load_tokenizer, specs, bad_sample_policy="fail")
    with pytest.raises(Exception, match=rf"{rows[0]['id']}.*{rows[0]['audio']}.*not found"):
        ds[0]


@pytest.mark.parametrize("bad_path", ["../outside.mp4", "/etc/passwd"])
def test_path_escaping_root_is_rejected_naming_the_sample(root, load_tokenizer, specs, bad_path):
    rows = av_rows(root, 2)
    rows[1]["video"] = bad_path
    with pytest.raises(UnsafePathError, match=rows[1]["id"]):
        make(root, rows, load_tokenizer, specs)


def test_text_problems_are_counted_up_front(root, load_tokenizer, specs):
    rows = av_rows(root, 4)
    rows[0]["conversations"] = []
    rows[1]["conversations"] = rows[1]["conversations"][:1]  # a question without an answer
    ds = make(root, rows, load_tokenizer, specs, max_bad_fraction=0.5)
    assert len(ds) == 2 and ds.report.counts == {"empty_conversation": 1, "no_assistant_turn": 1}
    with pytest.raises(DataQualityError, match="2 of 4 samples are bad"):
        make(root, rows, load_tokenizer, specs, max_bad_fraction=0.25)
    with pytest.raises(BadSampleError, match=rows[0]["id"]):
        make(root, rows, load_tokenizer, specs, bad_sample_policy="fail")


def test_overlength_is_dropped_and_counted_or_fails_never_truncated(root, load_tokenizer, specs):
    rows = av_rows(root, 3)
    rows[2]["conversations"][1]["value"] = "a very long answer " * 40
    full = make(root, rows[:2], load_tokenizer, specs)
    limit = max(full.lengths) + 5
    ds = make(root, rows, load_tokenizer, specs, max_length=limit, max_bad_fraction=0.5)
    assert len(ds) == 2 and ds.report.counts == {"overlength": 1}
    for k in range(len(ds)):  # the kept samples are whole: labels end with the end-of-turn token
        item = ds[k]
        assert item["labels"][item["labels"] != IGNORE_INDEX][-1] == ds.renderer.tokenizer.convert_tokens_to_ids(
            "<|eot_id|>"
        )
    with pytest.raises(BadSampleError, match=rf"{rows[2]['id']}.*max_length"):
        make(root, rows, load_tokenizer, specs, max_length=limit, overlength="fail")


def test_split_multi_turn_and_image_and_speech(root, load_tokenizer, tmp_path):
    from moka_train.modality import build_modality_specs

    specs = build_modality_specs([("image", "<image>", 3), ("speech", "<speech>", 2)])
    rows = [json.loads(line) for line in (root / "image_qa.jsonl").read_text().splitlines()][:1]
    rows[0]["conversations"] += [{"from": "human", "value": "And its colour?"}, {"from": "gpt", "value": "red"}]
    rows += [json.loads(line) for line in (root / "speech_qa.jsonl").read_text().splitlines()][:1]
    ds = make(root, rows, load_tokenizer, specs, multi_turn="split")
    assert [s.id for s in ds.samples] == ["img_00000#0", "img_00000#1", "sp_00000"]
    assert ds[1]["media"]["image"].shape == (1, 32, 32, 3)
    assert ds[2]["media"]["speech"].numel() == 2 * 16000


def test_dataloader_workers_sampler_and_collate_end_to_end(root, load_tokenizer, specs):
    from torch.utils.data import DataLoader

    from moka_train.data.collate import Collator
    from moka_train.data.report import DataReport
    from moka_train.data.sampler import GroupedDistributedSampler

    rows = av_rows(root)
    (root / rows[3]["video"]).write_bytes(b"broken" * 64)
    ds = make(root, rows, load_tokenizer, specs, max_bad_fraction=0.5)
    sampler = GroupedDistributedSampler(ds.lengths, ds.signatures, batch_size=2)
    loader = DataLoader(
        ds,
        batch_size=2,
        sampler=sampler,
        num_workers=2,
        collate_fn=Collator(ds.renderer.tokenizer.pad_token_id),
        multiprocessing_context="fork",
    )
    report = DataReport("train", total=len(rows))
    batches = list(loader)
    for batch in batches:
        report.update(batch["bad_samples"])  # failures inside workers reach the main process
        assert batch["media"]["video"].shape == (2, 4, 32, 32, 3)
        assert (batch["modality_ids"] == specs[0].id).sum() == 2 * specs[0].num_tokens
    assert sum(len(b["ids"]) for b in batches) == len(rows)
    assert report.counts == {"unreadable_media": 1} and rows[3]["id"] in report.bad["unreadable_media"]
