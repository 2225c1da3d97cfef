"""Stage 1 as released (issue 30 items 2 and 4): configs/pretrain_<backbone>.yaml trains one visual
projector (images as 1-frame video, then 8-frame videos) and one audio projector (AudioCaps 10 x 1 s
real windows) in fp32 with the chat template, and every scenario recipe starts from its exports.

Official values: GeWu-Lab/MokA AudioVisualText/scripts/pretrain/pretrain_visual.sh (--bf16 False,
--video_frame_nums 8), dataset/pretrain_dataset.py 207-262 (1-s real windows, np.arange frames),
scripts/finetune/finetune.py 134-148 and VisualText/train/train.py 495-510 (the exports reused)."""

from pathlib import Path

import pytest

from moka_train.config import load_config
from moka_train.train.stages import stage_model_config, stage_train_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BACKBONES = ("llama2", "llama3", "qwen2", "qwen25", "qwen3")


@pytest.fixture(autouse=True)
def roots(monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_ROOT", str(tmp_path / "models"))
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))


def plans(cfg, stage):
    return {m.name: m for m in stage_model_config(cfg, stage).modalities}


@pytest.mark.parametrize("backbone", BACKBONES)
def test_the_pretrain_recipe_is_the_official_stage_one(backbone):
    cfg = load_config(CONFIGS / f"pretrain_{backbone}.yaml")
    images, videos, audio = cfg.stages
    assert [s.name for s in cfg.stages] == ["pretrain_visual_images", "pretrain_visual", "pretrain_audio"]
    assert all(s.kind == "pretrain_projector" and s.epochs == 1 and s.optim.lr == 1e-4 for s in cfg.stages)
    for stage in cfg.stages:  # fp32: the whole model, the frozen LLM included; DeepSpeed without bf16/fp16
        assert stage_model_config(cfg, stage).dtype == "float32"
        assert stage_train_config(cfg, stage).deepspeed.precision == "fp32"
    # one visual projector: images (one frame each, through the video modality), then 8-frame videos
    assert images.modalities == videos.modalities == ("video",) and videos.init_from == ("pretrain_visual_images",)
    image_plan, video_plan = plans(cfg, images)["video"], plans(cfg, videos)["video"]
    assert (image_plan.frames, image_plan.accepts, image_plan.media_tokens()) == (1, ("image",), 32)
    assert (video_plan.frames, video_plan.sampling.frame_position, video_plan.media_tokens()) == (8, "start", 256)
    # AudioCaps 10 x 1 s real consecutive windows (the official ceil(duration) 1-s windows of a 10-s clip)
    plan = plans(cfg, audio)["audio"].sampling_plan()
    assert (plan.count, plan.window_seconds, plan.placement, plan.lead_seconds, plan.time_unit) == (
        10,
        1.0,
        "consecutive",
        0.0,
        "real",
    )
    # chat template and system prompt, the converted caption sets (train + val in audiocaps.jsonl)
    assert cfg.data.template == "chat" and cfg.data.system_prompt == "You are a helpful assistant."
    assert all(s.template is None for s in cfg.stages)
    files = [Path(s.train_file).name for s in cfg.stages]
    assert files == ["image_captions.jsonl", "video_captions.jsonl", "audiocaps.jsonl"]


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("scenario", ["avqa", "ave", "visual"])
def test_every_scenario_starts_from_the_pretrain_exports(backbone, scenario, monkeypatch):
    pretrain = load_config(CONFIGS / f"pretrain_{backbone}.yaml")
    export = Path(pretrain.output_dir) / "export"
    monkeypatch.setenv("PRETRAIN_EXPORT", str(export))
    cfg = load_config(CONFIGS / f"{scenario}_{backbone}.yaml")
    assert [s.name for s in cfg.stages] == ["finetune"]
    finetune = cfg.stages[0]
    pretrained = {m.name: m for m in pretrain.model.modalities}
    if scenario == "visual":  # VT loads the audio-visual visual projector into its image projector
        assert finetune.init_from == (str(export / "pretrain_visual"),)
        assert finetune.init_roles == {"projector.image": "projector.video"}
        image = cfg.model.modalities[0]
        assert (image.encoder, image.projector) == (pretrained["video"].encoder, pretrained["video"].projector)
        assert cfg.data.query_span == "after_media"
    else:
        assert finetune.init_from == (str(export / "pretrain_visual"), str(export / "pretrain_audio"))
        assert not finetune.init_roles
        for m in cfg.model.modalities:  # the same encoders and Q-Formers: the exports load strictly
            assert (m.encoder, m.projector) == (pretrained[m.name].encoder, pretrained[m.name].projector)
        assert cfg.data.query_span == "question"
    # the pretrain recipe's llm is the scenario's: its projectors were aligned to this LLM
    assert pretrain.model.llm_path == cfg.model.llm_path


def test_validate_prints_every_stages_plan_and_precision(capsys):
    import yaml
    from recipe_inputs import create_recipe_inputs

    from moka_train.cli import main

    create_recipe_inputs(CONFIGS / "pretrain_llama2.yaml")  # validate refuses paths that do not exist
    assert main(["validate", "--config", str(CONFIGS / "pretrain_llama2.yaml")]) == 0
    out = capsys.readouterr().out
    section = out.split("# --- stage plans (media and precision) ---\n")[1].split("# ---")[0]
    plans = yaml.safe_load("\n".join(line[2:] for line in section.splitlines()))["stage_plans"]
    assert list(plans) == ["pretrain_visual_images", "pretrain_visual", "pretrain_audio"]
    images, videos, audio = plans.values()
    assert (images["precision"], images["model.dtype"]) == ("fp32", "float32")
    assert images["video"].startswith("32 tokens; 1 frame(s)") and "reads ['image']" in images["video"]
    assert videos["video"].startswith("256 tokens; 8 frame(s) at the segment starts")
    assert audio["audio"].startswith("320 tokens; 10 window(s) of 1 s") and "real seconds" in audio["audio"]
