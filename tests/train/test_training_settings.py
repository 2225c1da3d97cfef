"""Settings of the trainer honoured or refused (issue 26): stage modalities, unfrozen encoders,
one precision, the bad-sample guard mid-epoch, loss reductions, init_from an import, the CLI."""

import json
from pathlib import Path

import pytest
import torch

from moka_train.cli import main as cli_main
from moka_train.config import ConfigError, load_config
from moka_train.config.schema import OptimConfig, StageConfig, TrainConfig
from moka_train.data.report import DataQualityError
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.train.checkpoint import CheckpointManager
from moka_train.train.data import build_stage_data
from moka_train.train.engine import deepspeed_config
from moka_train.train.reduction import answer_tokens, loss_weights, step_loss
from moka_train.train.run_dir import claim_output_dir
from moka_train.train.stages import check_stage_order, set_trainable

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "tiny_avqa.yaml"


@pytest.fixture
def demo(workspace, monkeypatch):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    return lambda *overrides: load_config(DEMO, list(overrides))


def roles(model, names):
    return sorted({model.role_of(n) for n in names})


def test_moka_finetune_trains_only_the_projectors_of_its_modalities(demo):
    cfg = demo()
    model = build_model(cfg.model, load_tokenizer(cfg.model), cfg.adapter)
    stage = StageConfig(name="ft", kind="moka_finetune", modalities=("audio",))
    assert roles(model, set_trainable(model, stage, ["video", "audio"])) == ["adapter", "projector.audio"]
    every = StageConfig(name="ft", kind="moka_finetune")
    assert roles(model, set_trainable(model, every, ["video", "audio"])) == [
        "adapter",
        "projector.audio",
        "projector.video",
    ]


def test_unfrozen_encoder_trains_in_train_mode_and_its_weights_change(demo):
    cfg = demo("model.modalities.1.encoder.frozen=false")
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer, cfg.adapter)
    specs = [b.spec for b in model.branches]
    stage = cfg.stages[-1]
    trainable = set_trainable(model, stage, [s.name for s in specs])
    assert roles(model, trainable) == ["adapter", "encoder.audio", "projector.audio", "projector.video"]
    model.train()
    assert model.encoders["audio"].training and not model.encoders["video"].training
    before = {k: v.detach().clone() for k, v in model.encoders.named_parameters()}
    batch = next(iter(build_stage_data(cfg, stage, tokenizer, specs).loader(0, 0)))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model(batch)["loss"].backward()
    optimizer.step()
    changed = sorted({k.split(".")[0] for k, v in model.encoders.named_parameters() if not torch.equal(v, before[k])})
    assert changed == ["audio"]


def test_unfrozen_encoder_and_the_feature_cache_are_refused_by_key(demo, tmp_path):
    with pytest.raises(ConfigError, match=r"model.modalities\[1\].encoder.frozen.*data.feature_cache"):
        demo("model.modalities.1.encoder.frozen=false", f"data.feature_cache={tmp_path}")


def test_model_dtype_and_deepspeed_precision_must_agree(demo):
    with pytest.raises(ConfigError, match="model.dtype=float32 and train.deepspeed.precision=bf16 disagree"):
        demo("train.deepspeed.precision=bf16")
    # left out, the precision is the one of model.dtype
    assert deepspeed_config(TrainConfig(), OptimConfig(), "bfloat16")["bf16"]["enabled"]
    assert not deepspeed_config(TrainConfig(), OptimConfig(), "float32")["bf16"]["enabled"]


def test_encoders_run_in_model_dtype_as_deepspeed_trains_them(demo):
    cfg = demo("model.dtype=bfloat16", "train.deepspeed.precision=bf16")
    model = build_model(cfg.model, load_tokenizer(cfg.model), cfg.adapter)
    assert {p.dtype for p in model.encoders.parameters()} == {torch.bfloat16}


def test_bad_fraction_aborts_mid_epoch_with_the_count(demo, workspace, tmp_path):
    rows = [json.loads(line) for line in (workspace / "data" / "av_qa.jsonl").read_text().splitlines()[:8]]
    for kind in ("video", "audio"):  # the clips, reached from a root of our own (followed links)
        (tmp_path / kind).symlink_to(workspace / "data" / kind)
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    for row in rows[4:]:  # the last 4 of 8 clips cannot be decoded
        row["video"] = "broken.mp4"
    file = tmp_path / "half_broken.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = demo(
        f"data.train_file={file}",
        f"data.root={tmp_path}",
        "data.max_bad_fraction=0.05",
        "train.micro_batch_size=2",
        "data.group_by_modality=false",
    )
    tokenizer = load_tokenizer(cfg.model)
    model_specs = [b.spec for b in build_model(cfg.model, tokenizer).branches]
    data = build_stage_data(cfg, cfg.stages[-1], tokenizer, model_specs)  # the build itself passes
    seen = 0
    with pytest.raises(DataQualityError, match=r"epoch 0, micro-batch \d+: train: \d of 8 samples are bad"):
        for _ in data.loader(0, 0):
            seen += 1
    assert seen < data.batches_per_epoch  # aborted before the end of the epoch


def test_packing_is_refused_as_the_backbone_declares_it(demo, tmp_path):
    import re

    from moka_train.config.backbones import backbone
    from moka_train.testing.vlm import tiny_qwen25vl_overrides

    cfg = demo(*tiny_qwen25vl_overrides(tmp_path / "vlm"), "data.packing=true")
    why = backbone("qwen2_5_vl").why_no_packing()  # config/backbones.py: the one wording of the refusal
    assert "data.packing" in why and "set data.packing: false" in why
    with pytest.raises(ValueError, match=re.escape(why)):  # before any tokenizer or file is touched
        build_stage_data(cfg, cfg.stages[-1], tokenizer=None, specs=[])


def test_token_and_sample_reductions_by_hand():
    # micro-batch 1: one answer token, mean loss 2.0; micro-batch 2: three tokens, mean 1.0
    losses, tokens = [2.0, 1.0], [1, 3]
    assert step_loss(losses, tokens, "sample") == pytest.approx(1.5)  # (2 + 1) / 2
    assert step_loss(losses, tokens, "token") == pytest.approx(1.25)  # (2*1 + 1*3) / 4
    weights = loss_weights(tokens, "token", grad_accum=2, ranks=1)
    assert weights == pytest.approx([0.5, 1.5])
    # DeepSpeed divides each backward by grad_accum: the step optimises sum(w * loss) / 2
    assert sum(w * x for w, x in zip(weights, losses)) / 2 == pytest.approx(1.25)
    assert loss_weights(tokens, "sample", 2, 1) == [1.0, 1.0]
    labels = torch.tensor([[-100, 5, 6, -100], [-100, -100, 7, -100]])  # shifted: 2 and 1 answer tokens
    assert answer_tokens({"labels": labels}) == 3


def test_init_from_an_import_directory_and_the_run_dir_guard(demo, tmp_path):
    out = tmp_path / "run"
    imported = out / "export" / "official"
    stages = "stages.0.init_from=" + str(imported)
    with pytest.raises(ConfigError, match=r"stages\[0\].init_from .*no manifest.json"):
        check_stage_order(demo(f"output_dir={out}", stages))
    imported.mkdir(parents=True)
    (imported / "manifest.json").write_text("{}")
    cfg = demo(f"output_dir={out}", stages)
    check_stage_order(cfg)
    claim_output_dir(cfg, CheckpointManager(out / "checkpoints"))  # an import is no earlier run
    earlier = out / "export" / "finetune"
    earlier.mkdir()
    (earlier / "manifest.json").write_text("{}")
    with pytest.raises(ConfigError, match="exports of stage\\(s\\) finetune in"):
        claim_output_dir(cfg, CheckpointManager(out / "checkpoints"))
    claim_output_dir(demo(f"output_dir={out}", stages, "overwrite=true"), CheckpointManager(out / "checkpoints"))
    assert not earlier.exists() and (imported / "manifest.json").is_file()
    with pytest.raises(ConfigError, match="where stage 'finetune' of this run writes"):
        check_stage_order(demo(f"output_dir={out}", f"stages.0.init_from={earlier}"))
    with pytest.raises(ConfigError, match="stage 'finetune' does not come before 'pretrain_video'"):
        check_stage_order(demo(f"output_dir={out}", "stages.0.init_from=finetune"))


def test_cli_reports_a_broken_checkpoint_without_a_traceback(demo, workspace, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    rc = cli_main(
        ["--config", str(DEMO), f"output_dir={tmp_path / 'run'}", f"resume={tmp_path / 'nothing'}"], command="train"
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "error: resume=" in err and "not a complete checkpoint" in err and "Traceback" not in err
