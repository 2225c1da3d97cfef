"""The real entry point honours a stage's own media plan (issue 30): stage 1 reads image records
as 1-frame videos (stages[].media accepts) while fine-tuning keeps the model's 4 frames, and the
fine-tuning stage starts from that projector (the Q-Former works per frame: the export fits)."""

import json

import numpy as np
from e2e_helpers import losses, run_cli
from PIL import Image
from safetensors.torch import load_file

PROMPT = "This is an image:\n<image>\nPlease answer the question:\nWhat colour is it?"


def test_a_stage_with_its_own_plan_trains_images_as_one_frame_videos(workspace, tmp_path):
    rows = []
    for k, colour in enumerate(["red", "blue"] * 4):
        rgb = (200, 0, 0) if colour == "red" else (0, 0, 200)
        Image.fromarray(np.full((28, 28, 3), rgb, dtype=np.uint8)).save(tmp_path / f"{k}.png")
        turns = [{"from": "human", "value": PROMPT}, {"from": "gpt", "value": f"A {colour} picture."}]
        rows.append({"id": f"img{k}", "image": f"{k}.png", "conversations": turns})
    (tmp_path / "images.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    run_cli(
        workspace,
        [
            f"output_dir={out}",
            "train.max_steps=2",
            f"stages.0.root={tmp_path}",
            f"stages.0.train_file={tmp_path / 'images.jsonl'}",
            "stages.0.media={video: {frames: 1, accepts: [image]}}",
            "stages.0.precision=fp32",
            "stages.2.optim.lr=1e-9",  # fine-tuning barely moves: its export shows where it started
        ],
    )
    assert len(losses(out, "pretrain_video")) == 2 and len(losses(out, "finetune")) == 2
    assert json.loads((out / "data_report_pretrain_video.json").read_text())["num_bad"] == 0
    stage1 = load_file(str(out / "export" / "pretrain_video" / "projector.video.safetensors"))
    stage2 = load_file(str(out / "export" / "finetune" / "projector.video.safetensors"))
    assert max((stage1[k] - stage2[k]).abs().max().item() for k in stage1) < 1e-6
