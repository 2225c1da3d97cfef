"""Per-stage media plans, precision, images read as 1-frame video and role-renamed init (issue 30).

A stage's plan (``stages[].media``) and precision (``stages[].precision``) must reach everything
that stage builds: the model's branches, the placeholder expansion, media loading, the feature
cache key and DeepSpeed's precision; a mismatch between them must fail by name."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from moka_train.config import ConfigError, load_config
from moka_train.config.load import validate
from moka_train.data.feature_cache import encoder_identity
from moka_train.data.report import DataQualityError
from moka_train.data.specs import modality_specs
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.model.export import export_weights
from moka_train.train.data import build_stage_data
from moka_train.train.engine import deepspeed_config
from moka_train.train.stages import load_init, stage_model_config, stage_train_config
from moka_train.utils.weights_format import ExportError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "tiny_avqa.yaml"
SERIAL = "data.num_workers=0"


@pytest.fixture
def demo(workspace, monkeypatch):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    return lambda *overrides: load_config(DEMO, [SERIAL, *overrides])


def first_batch(data):
    return next(iter(data.loader(0, 0)))


def test_a_stage_plan_reaches_the_model_the_placeholders_the_media_and_the_cache_key(demo):
    cfg = demo("stages.0.media={video: {frames: 2, sampling: {frame_position: start}}}")
    stage = cfg.stages[0]
    model_cfg = stage_model_config(cfg, stage)
    video = model_cfg.modalities[0]
    assert (video.frames, video.sampling.frame_position) == (2, "start") and cfg.model.modalities[0].frames == 4
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(model_cfg, tokenizer)
    specs = [b.spec for b in model.branches]
    assert model.branch("video").frames == 2 and specs[0].num_tokens == 2 * 4  # 4 queries per frame
    data = build_stage_data(cfg, stage, tokenizer, specs)
    batch = first_batch(data)
    assert batch["media"]["video"].shape[1] == 2  # two frames decoded per clip
    assert int((batch["modality_ids"][0] == specs[0].id).sum()) == 8  # the placeholder expanded to 8
    assert torch.isfinite(model(batch)["loss"])  # the model's splice count-check agrees
    # the run-level plan (4 frames) cannot render this stage's data
    with pytest.raises(ValueError, match="stage 'pretrain_video': modality 'video' is given 16 tokens"):
        build_stage_data(cfg, stage, tokenizer, modality_specs(cfg.model))
    # cached features of one plan are never served to the other
    assert encoder_identity(video, cfg.data) != encoder_identity(cfg.model.modalities[0], cfg.data)
    assert stage_model_config(cfg, cfg.stages[2]) == cfg.model  # the fine-tuning stage: the model's plan


def test_a_bad_stage_plan_is_refused_by_its_key(demo):
    with pytest.raises(ConfigError, match=r"stages\[0\]\.media: \['speech'\] not in model.modalities"):
        demo("stages.0.media={speech: {frames: 2}}")
    with pytest.raises(ConfigError, match=r"stages\[2\] \(finetune\)\.media: the last stage"):
        demo("stages.2.media={video: {frames: 2}}")
    with pytest.raises(ConfigError, match=r"stages\[1\]\.media\.audio: .*accepts"):
        demo("stages.1.media={audio: {accepts: [image]}}")
    with pytest.raises(ConfigError, match=r"stages\[0\]\.media\.video\.accepts \['audio'\]: only record keys"):
        demo("stages.0.media={video: {frames: 1, accepts: [speech, audio]}}", "data.media_kinds.speech=image")
    with pytest.raises(ConfigError, match=r"stages\[2\] \(finetune\)\.precision=bf16: the last stage"):
        demo("stages.2.precision=bf16")
    with pytest.raises(ConfigError, match=r"stages\[0\]\.precision=bf16 but data.feature_cache"):
        demo("stages.0.precision=bf16", "data.feature_cache=/tmp/cache")


def test_an_fp32_stage_computes_in_fp32_while_the_finetune_stage_runs_bf16(demo):
    cfg = demo("model.dtype=bfloat16", "train.deepspeed.precision=bf16", "stages.0.precision=fp32")
    pre, ft = cfg.stages[0], cfg.stages[2]
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(stage_model_config(cfg, pre), tokenizer)
    # the official stage 1 loads the LLM in fp32 too (pretrain.py compute_dtype): every weight fp32
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    feats = torch.randn(1, 4, 17, model.encoders["video"].output_dim)  # [n, frames, tokens, width]
    assert model.project("video", feats).dtype == torch.float32
    ds = deepspeed_config(stage_train_config(cfg, pre), pre.optim, stage_model_config(cfg, pre).dtype)
    assert not ds["bf16"]["enabled"] and not ds["fp16"]["enabled"]
    ds = deepspeed_config(stage_train_config(cfg, ft), ft.optim, stage_model_config(cfg, ft).dtype)
    assert ds["bf16"]["enabled"]
    tuned = build_model(stage_model_config(cfg, ft), tokenizer, cfg.adapter)
    assert {p.dtype for p in tuned.projectors.parameters()} == {torch.bfloat16}
    assert tuned.llm.get_input_embeddings().weight.dtype == torch.bfloat16


def test_an_image_record_is_a_one_frame_video_in_a_stage_that_accepts_it(demo, tmp_path):
    Image.fromarray(np.full((20, 30, 3), 200, dtype=np.uint8)).save(tmp_path / "red.png")
    prompt = "This is an image:\n<image>\nPlease answer the question:\nWhat is shown?"
    row = {
        "id": "i0",
        "image": "red.png",
        "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": "A grey picture."}],
    }
    (tmp_path / "images.jsonl").write_text("\n".join(json.dumps({**row, "id": f"i{k}"}) for k in range(4)) + "\n")
    where = [f"stages.0.root={tmp_path}", f"stages.0.train_file={tmp_path / 'images.jsonl'}"]
    cfg = demo(*where, "stages.0.media={video: {frames: 1, accepts: [image]}}")
    stage = cfg.stages[0]
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(stage_model_config(cfg, stage), tokenizer)
    data = build_stage_data(cfg, stage, tokenizer, [b.spec for b in model.branches])
    assert data.dataset.report.num_bad == 0 and len(data.dataset) == 4
    batch = first_batch(data)
    assert batch["media"]["video"].shape[1:] == (1, 28, 28, 3)  # the image, decoded as an image: one frame
    video_id = model.branch("video").spec.id
    assert int((batch["modality_ids"][0] == video_id).sum()) == 4  # 4 queries for its one frame
    assert torch.isfinite(model(batch)["loss"])
    # without accepts the same records are not this model's media (every one a bad sample)
    plain = demo(*where, "stages.0.media={video: {frames: 1}}")
    with pytest.raises(DataQualityError, match="unknown_modality"):
        build_stage_data(plain, plain.stages[0], tokenizer, modality_specs(stage_model_config(plain, plain.stages[0])))
    with pytest.raises(ValueError, match="modality 'video' is given 4 tokens .* accepts \\['image'\\]"):
        build_stage_data(plain, plain.stages[0], tokenizer, [b.spec for b in model.branches])


def test_the_pretrained_video_projector_loads_as_the_image_projector_strictly(demo, tmp_path):
    cfg = demo()
    pretrain = build_model(cfg.model, load_tokenizer(cfg.model))
    pretrain.projectors.requires_grad_(True)
    export_weights(pretrain, tmp_path / "export" / "pretrain_visual", "", {})
    raw = cfg.model_dump(mode="json", exclude_unset=True)
    video = {**raw["model"]["modalities"][0], "name": "image", "placeholder": "<image>", "frames": 1}
    raw["model"]["modalities"] = [video]
    raw["stages"] = [
        {
            "name": "finetune",
            "kind": "moka_finetune",
            "init_from": [str(tmp_path / "export" / "pretrain_visual")],
            "init_roles": {"projector.image": "projector.video"},
        }
    ]
    vt = validate(raw)
    model = build_model(vt.model, load_tokenizer(vt.model), vt.adapter)
    [(source, loaded)] = load_init(model, vt, vt.stages[0])
    assert loaded == ["projector.image"]
    for name, param in pretrain.projectors["video"].state_dict().items():
        assert torch.equal(model.projectors["image"].state_dict()[name], param)
    # strict: an export whose projector has another shape of keys fails naming them
    raw["model"]["modalities"][0]["projector"]["num_layers"] = 2
    deeper = validate(raw)
    model = build_model(deeper.model, load_tokenizer(deeper.model), deeper.adapter)
    with pytest.raises(ExportError, match=r"projector.video as projector.image\) does not fit the model: missing keys"):
        load_init(model, deeper, deeper.stages[0])
    # a role the export does not hold is named
    raw["stages"][0]["init_roles"] = {"projector.image": "projector.audio_visual"}
    with pytest.raises(ValueError, match=r"init_roles \['projector.image'\] not loaded"):
        load_init(model, validate(raw), validate(raw).stages[0])


def test_the_feature_cache_is_filled_with_each_stages_own_plan(demo, tmp_path):
    from moka_train.data.feature_cache import cache_for
    from moka_train.train.feature_cache_writer import fill_feature_cache

    cfg = demo(f"data.feature_cache={tmp_path / 'cache'}", "stages.0.media={video: {frames: 2}}")
    counts = fill_feature_cache(cfg)
    # stage 0's video captions under its 2-frame plan, and the same clips again under the model's 4
    # frames (the fine-tuning file); the audio once: its plan is the same in every stage
    assert counts["written"] == 32 + 32 + 32
    stage_plan = stage_model_config(cfg, cfg.stages[0])
    clip = next((Path(cfg.data.root) / "video").glob("*.mp4"))
    two = cache_for(stage_plan.modalities, cfg.data).load("video", clip)
    four = cache_for(cfg.model.modalities, cfg.data).load("video", clip)
    assert two.shape[0] == 2 and four.shape[0] == 4  # [frames, tokens, width]


def test_resume_refuses_a_checkpoint_of_another_stage_plan(demo):
    from moka_train.train.identity import check_identity, run_identity

    cfg, changed = demo(), demo("stages.0.media={video: {frames: 2}}", "stages.0.precision=fp32")
    saved, now = run_identity(cfg, cfg.stages[0]), run_identity(changed, changed.stages[0])
    with pytest.raises(ConfigError, match=r"stage.plan: .*'video': '16 tokens.*'video': '8 tokens"):
        check_identity(saved, now, (), Path("ck"))
    assert run_identity(cfg, cfg.stages[2]) == run_identity(changed, changed.stages[2])  # fine-tuning unchanged


def test_an_export_of_another_backbone_is_refused_by_init_from(demo, tmp_path):
    from moka_train.train.stages import check_stage_order

    export = tmp_path / "pretrain_llama3" / "export" / "pretrain_visual"
    export.mkdir(parents=True)
    (export / "manifest.json").write_text("{}")
    (export / "config.yaml").write_text("model:\n  llm_path: /models/Meta-Llama-3-8B-Instruct\n")
    cfg = demo(f"output_dir={tmp_path / 'run'}", f"stages.2.init_from=[pretrain_video, {export}]")
    with pytest.raises(ConfigError, match=r"stages\[2\].init_from .*trained with the LLM '/models/Meta-Llama-3"):
        check_stage_order(cfg)
    (export / "config.yaml").write_text(f"model:\n  llm_path: /elsewhere/{Path(cfg.model.llm_path).name}\n")
    check_stage_order(cfg)  # the same LLM directory, moved: accepted
