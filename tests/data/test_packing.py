"""data.packing: rows never cost more tokens than padding; through the real model (decoded media,
the feature cache, a batch lacking a modality) a packed micro-batch gives the padded loss and
gradients; the sampler deals packed batches evenly and resumes mid-epoch exactly; validate
prints the packing efficiency of the data."""

import json
import random
from pathlib import Path

import pytest
import torch
import yaml

from moka_train.config import load_config
from moka_train.data.collate import Collator
from moka_train.data.dataset import build_dataset
from moka_train.data.feature_cache import cache_for
from moka_train.data.packing import pack_rows, packing_efficiency
from moka_train.data.sampler import GroupedDistributedSampler, snake_deal
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.train.data import attention_width, build_stage_data, stage_collator
from moka_train.train.feature_cache_writer import fill_feature_cache

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "tiny_avqa.yaml"


def test_rows_fit_hold_every_sample_once_and_never_cost_more_than_padding():
    rng = random.Random(0)
    for _ in range(200):
        lengths = [rng.randint(1, 120) for _ in range(rng.randint(1, 12))]
        rows = pack_rows(lengths, 128)
        assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
        loads = [sum(lengths[i] for i in row) for row in rows]
        assert max(loads) <= 128
        assert len(rows) * max(loads) <= len(lengths) * max(lengths)
    # rows of 256: two rows of 150 (300 tokens), not 100 + 90 + 60 | 50 (2 x 250) nor padded (400)
    assert pack_rows([100, 90, 60, 50], 256) == [[0, 3], [1, 2]]
    assert pack_rows([85, 85, 85, 85], 256) == [[0], [1], [2], [3]]  # a tie keeps the shorter rows
    # tokens only: one row of 900 (900 < 7 x 200); attention counted (a row of W costs W (1 + W/300)):
    # one row would cost 900 x 4 = 3600, five rows of 200 cost 5 x 200 x 5/3 = 1667, padding 2333
    lengths = [200, 150, 150, 100, 100, 100, 100]
    assert pack_rows(lengths, 1024) == [[0, 1, 2, 3, 4, 5, 6]]
    assert pack_rows(lengths, 1024, attention_width=300) == [[0], [1], [2], [3, 5], [4, 6]]


def test_an_overlength_sample_is_refused_by_index_and_length():
    with pytest.raises(ValueError, match=r"samples \[1\] have \[300\] tokens, more than data.max_length 256"):
        pack_rows([10, 300], 256)


def test_packed_batches_are_dealt_to_ranks_in_snake_order():
    # 2 ranks x 2 samples: sorted longest first a > b > c > d, rank 0 gets a and d, rank 1 b and c
    assert snake_deal(2, 2).tolist() == [0, 2, 3, 1]
    lengths, sigs = [40, 30, 20, 10], ["a"] * 4
    plain = [
        GroupedDistributedSampler(lengths, sigs, 2, rank=r, world_size=2, shuffle=False).rank_order(0) for r in range(2)
    ]
    packed = [
        GroupedDistributedSampler(lengths, sigs, 2, rank=r, world_size=2, shuffle=False, packing=True).rank_order(0)
        for r in range(2)
    ]
    assert plain == [[0, 1], [2, 3]]  # the longest two on rank 0
    assert packed == [[0, 3], [1, 2]]  # 50 tokens each


def test_a_padded_runs_sampler_state_is_refused_by_a_packed_run_on_several_ranks():
    padded = GroupedDistributedSampler([5] * 8, ["a"] * 8, 2, rank=0, world_size=2)
    packed = GroupedDistributedSampler([5] * 8, ["a"] * 8, 2, rank=0, world_size=2, packing=True)
    with pytest.raises(ValueError, match="data.packing=False, this run has True"):
        packed.load_state_dict(padded.state_dict())


@pytest.fixture(scope="module")
def setup(workspace, tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DEMO_ROOT", str(workspace))
        cfg = load_config(CONFIG, [f"data.feature_cache={cache_dir}"])
        fill_feature_cache(cfg)
        plain = load_config(CONFIG)
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer, cfg.adapter).eval()  # eval: no dropout (gradients still flow)
    for name, param in model.named_parameters():  # adapters and projectors train; B random so MokA acts
        param.requires_grad_(model.role_of(name) in ("adapter", "projector.video", "projector.audio"))
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.05, generator=torch.Generator().manual_seed(1))
    return cfg, plain, tokenizer, model


def loss_and_grads(model, batch):
    model.zero_grad(set_to_none=True)
    loss = model(batch)["loss"]
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def assert_same(packed, padded):
    (loss_a, grads_a), (loss_b, grads_b) = packed, padded
    assert grads_a.keys() == grads_b.keys() and grads_a
    torch.testing.assert_close(loss_a, loss_b, atol=1e-5, rtol=1e-5)
    for name in grads_a:
        scale = grads_b[name].abs().max().clamp(min=1.0)
        assert (grads_a[name] - grads_b[name]).abs().max() / scale <= 1e-5, name


@pytest.mark.parametrize("cached", [False, True], ids=["decoded", "feature_cache"])
def test_a_packed_micro_batch_gives_the_padded_loss_and_gradients(setup, cached):
    cfg, plain, tokenizer, model = setup
    data_cfg = cfg.data if cached else plain.data
    dataset = build_dataset(
        data_cfg,
        tokenizer,
        [b.spec for b in model.branches],
        cache=cache_for(cfg.model.modalities, data_cfg) if cached else None,
    )
    items = [dataset[i] for i in range(6)]
    packed = Collator(tokenizer.pad_token_id, packing_length=data_cfg.max_length)(items)
    assert packed["input_ids"].shape[0] < 6 and (packed["features"] if cached else packed["media"])
    assert_same(loss_and_grads(model, packed), loss_and_grads(model, Collator(tokenizer.pad_token_id)(items)))


def test_a_packed_batch_lacking_a_modality_still_touches_its_branch(setup, workspace, tmp_path):
    """Video-only samples: the audio branch runs on a dummy (ZeRO-3 needs every rank to call it)."""
    cfg, plain, tokenizer, model = setup
    answers = ["red", "a blue square moving left", "a small red circle moving up and then down again", "blue"]
    rows = [
        {
            "id": f"v{i}",
            "video": f"video/av_0000{i}.mp4",
            "conversations": [
                {"from": "human", "value": "This is a video:\n<video>\nPlease answer this question: What do you see?"},
                {"from": "gpt", "value": answer},
            ],
        }
        for i, answer in enumerate(answers)
    ]
    (tmp_path / "video_only.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data_cfg = plain.data.model_copy(update={"train_file": str(tmp_path / "video_only.jsonl")})
    dataset = build_dataset(data_cfg, tokenizer, [b.spec for b in model.branches])
    items = [dataset[i] for i in range(4)]
    packed = Collator(tokenizer.pad_token_id, packing_length=data_cfg.max_length)(items)
    assert set(packed["media"]) == {"video"} and packed["input_ids"].shape[0] < 4
    result = loss_and_grads(model, packed)
    assert any(n.startswith("projectors.audio.") for n in result[1])  # the dummy's zero gradient
    assert_same(result, loss_and_grads(model, Collator(tokenizer.pad_token_id)(items)))


def test_the_trainer_lays_packed_rows_out_for_the_llm_width(setup):
    cfg, plain, tokenizer, model = setup
    width = model.llm.config.hidden_size
    assert attention_width(plain.model.llm_path) == 6 * width
    for cost, expected in (("compute", 6 * width), ("tokens", None)):
        data_cfg = plain.data.model_copy(update={"packing": True, "packing_cost": cost})
        assert stage_collator(plain, data_cfg, tokenizer).attention_width == expected


def test_resuming_mid_epoch_gives_the_remaining_packed_batches(setup, workspace):
    cfg, plain, tokenizer, model = setup
    cfg = plain.model_copy(update={"data": plain.data.model_copy(update={"packing": True, "packing_cost": "tokens"})})
    specs = [b.spec for b in model.branches]
    full = list(build_stage_data(cfg, cfg.stages[-1], tokenizer, specs).loader(epoch=1, position=0))
    resumed = list(build_stage_data(cfg, cfg.stages[-1], tokenizer, specs).loader(epoch=1, position=3))
    assert len(resumed) == len(full) - 3 and all("segment_ids" in b for b in full)
    assert any(b["input_ids"].shape[0] < len(b["ids"]) for b in full)  # rows really are shared
    for a, b in zip(full[3:], resumed):
        assert a["ids"] == b["ids"]
        for key in ("input_ids", "labels", "modality_ids", "position_ids", "segment_ids"):
            assert torch.equal(a[key], b[key]), key


def test_validate_prints_the_packing_efficiency_of_the_data(setup, workspace, capsys):
    from moka_train.cli import main

    cfg, plain, tokenizer, model = setup
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DEMO_ROOT", str(workspace))
        assert main(["validate", "--config", str(CONFIG), "data.packing=true", "data.packing_cost=tokens"]) == 0
    out = capsys.readouterr().out
    block = out.split("# --- packing efficiency")[1].split("\n", 1)[1]
    printed = yaml.safe_load("\n".join(line[2:] for line in block.splitlines() if line.startswith("# ")))
    dataset = build_dataset(plain.data, tokenizer, [b.spec for b in model.branches])
    order = GroupedDistributedSampler(dataset.lengths, dataset.signatures, 4, packing=True).rank_order(0)
    expected = packing_efficiency(dataset.lengths, order, 4, plain.data.max_length)
    assert printed["packing"] == {
        "stage": "finetune",
        "data.packing": True,
        "max_length": 256,
        "micro_batch": 4,
        "packing_cost": "tokens",
        **expected,
    }
    assert expected["packed_efficiency"] > expected["padded_efficiency"]
