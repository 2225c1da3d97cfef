"""Qwen2.5-VL as a backbone (model.backbone: qwen2_5_vl) on a tiny random Qwen2.5-VL written with
save_pretrained: its own vision path makes the video tokens, BEATs + Q-Former the audio; routing,
rotary positions, generation and every adapter method are checked against the model's own code."""

import pytest
import torch
from qwen25vl_helpers import CONFIG, VIDEO_TOKENS, batches, overrides

from moka_train.adapters import adapter_modules, available_methods
from moka_train.config import load_config
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.testing.vlm import make_tiny_qwen25vl

VIDEO, AUDIO = 2, 3  # modality ids in config order


@pytest.fixture(scope="module")
def vlm_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("qwen25vl") / "llm"
    make_tiny_qwen25vl(directory, seed=0)
    return directory


@pytest.fixture()
def cfg(vlm_dir, workspace, monkeypatch):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    return load_config(CONFIG, overrides(vlm_dir))


@pytest.fixture()
def tokenizer(cfg):
    return load_tokenizer(cfg.model)


def moka_model(cfg, tokenizer, method="moka"):
    torch.manual_seed(0)
    adapter = cfg.adapter.model_copy(update={"method": method})
    model = build_model(cfg.model, tokenizer, adapter)
    with torch.no_grad():  # non-zero B so that the adapters change the outputs
        for module in adapter_modules(model.llm).values():
            for name, param in module.adapter_named_parameters():
                if "lora_B" in name:
                    param.normal_(0, 0.05)
    return model.eval()


def without_audio(batch):
    """The same batch with every audio token removed (right-padded rows re-packed)."""
    keep = batch["modality_ids"] != AUDIO
    rows = [
        {k: batch[k][i][keep[i]] for k in ("input_ids", "labels", "modality_ids", "attention_mask")}
        for i in range(keep.shape[0])
    ]
    width = max(len(r["input_ids"]) for r in rows)
    pads = {"input_ids": 0, "labels": -100, "modality_ids": -1, "attention_mask": 0}
    out = {
        k: torch.stack([torch.cat([r[k], r[k].new_full((width - len(r[k]),), v)]) for r in rows])
        for k, v in pads.items()
    }
    return {
        **out,
        "media": {"video": batch["media"]["video"]},
        "media_index": {"video": batch["media_index"]["video"]},
        "ids": batch["ids"],
    }


def native_video_embeddings(model, frames):
    """The model's own path, independently: its processor, then its vision tower + merger."""
    inputs = model.processor(
        videos=list(frames.permute(0, 1, 4, 2, 3)), return_tensors="pt", cap_pixels_per_frame=False
    )
    out = model.llm.model.get_video_features(inputs["pixel_values_videos"], inputs["video_grid_thw"])
    return torch.cat(out.pooler_output), inputs["video_grid_thw"]


def test_routing_marks_exactly_the_visual_tokens_as_video_and_the_qformer_tokens_as_audio(cfg, tokenizer):
    model = moka_model(cfg, tokenizer)
    batch = batches(cfg, tokenizer, model, "right", 2, False)[0]
    with torch.no_grad():
        embeds, _ = model.embed(batch)
        model(batch)
        visual, _ = native_video_embeddings(model, batch["media"]["video"])
        audio = model.encode("audio", batch["media"]["audio"], 2, batch["media_lengths"]["audio"])
    slots = model.slot.routing.adapter_index
    assert int((slots == 1).sum()) == 2 * VIDEO_TOKENS and int((slots == 2).sum()) == 2 * 8
    assert torch.allclose(embeds[slots == 1], visual, atol=1e-6)  # video slot == the model's own visual tokens
    assert torch.allclose(embeds[slots == 2], audio.flatten(0, 1), atol=1e-6)  # audio slot == Q-Former tokens
    own_mask = batch["modality_ids"] == VIDEO  # where the model would put its <|video_pad|> tokens
    ids = batch["input_ids"].masked_fill(own_mask, model.llm.config.video_token_id)
    _, hf_mask = model.llm.model.get_placeholder_mask(ids, embeds, video_features=visual)
    assert torch.equal(hf_mask[..., 0], slots == 1)
    assert not adapter_modules(model.llm.model.visual) and adapter_modules(model.llm.model.language_model)


def test_positions_equal_the_models_own_without_audio_and_audio_counts_as_text(cfg, tokenizer):
    model = build_model(cfg.model, tokenizer).eval()  # no adapters: our forward must be the model's own
    batch = batches(cfg, tokenizer, model, "right", 2, False)[0]
    plain = without_audio(batch)
    ids = plain["input_ids"].masked_fill(plain["modality_ids"] == VIDEO, model.llm.config.video_token_id)
    inputs = model.processor(
        videos=list(plain["media"]["video"].permute(0, 1, 4, 2, 3)), return_tensors="pt", cap_pixels_per_frame=False
    )
    with torch.no_grad():
        own = model.llm(
            input_ids=ids,
            attention_mask=plain["attention_mask"],
            pixel_values_videos=inputs["pixel_values_videos"],
            video_grid_thw=inputs["video_grid_thw"],
            mm_token_type_ids=(ids == model.llm.config.video_token_id).int() * 2,
            second_per_grid_ts=torch.full((2,), model.seconds_per_grid),
        ).logits
        ours = model({**plain, "labels": None})["logits"]  # logits come without labels
    real = plain["attention_mask"].bool()
    assert torch.allclose(ours[real], own[real], atol=1e-5)  # same embeddings and the model's own 3-D positions
    with_audio, without = model.position_ids(batch), model.position_ids(plain)
    assert (without[0] != without[1]).any()  # real multimodal positions, not 1-D text ones
    for row in range(2):
        audio = (batch["modality_ids"][row] == AUDIO).nonzero().flatten()
        kept = with_audio[:, row][:, (batch["modality_ids"][row] != AUDIO) & batch["attention_mask"][row].bool()]
        base = without[:, row][:, plain["attention_mask"][row].bool()]
        first = int(audio[0])  # tokens before the audio keep their positions, those after move by its length
        assert torch.equal(kept[:, :first], base[:, :first])
        assert torch.equal(kept[:, first:], base[:, first:] + len(audio))
        start = int(base[:, :first].max()) + 1  # audio: consecutive text positions, equal on all three axes
        expected = torch.arange(start, start + len(audio)).expand(3, -1)
        assert torch.equal(with_audio[:, row, audio], expected)


def test_batched_left_padded_generation_equals_per_sample(cfg, tokenizer):
    model = moka_model(cfg, tokenizer)
    kwargs = dict(max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=None)
    batched = batches(cfg, tokenizer, model, "left", 6, True)[0]
    assert (batched["attention_mask"] == 0).any()
    together = model.generate(batched, **kwargs)
    alone = torch.cat([model.generate(b, **kwargs) for b in batches(cfg, tokenizer, model, "left", 1, True)])
    assert together.shape == (6, 5) and torch.equal(together, alone)
    first = batches(cfg, tokenizer, model, "left", 1, True)[0]
    new = together[:1, :-1]  # decode steps: each new token is our own forward's argmax over the longer text
    extended = {
        **first,
        "labels": None,
        "input_ids": torch.cat([first["input_ids"], new], 1),
        "modality_ids": torch.cat([first["modality_ids"], torch.zeros_like(new)], 1),
        "attention_mask": torch.cat([first["attention_mask"], torch.ones_like(new)], 1),
    }
    with torch.no_grad():
        logits = model(extended)["logits"]
    start = first["input_ids"].shape[1] - 1
    assert torch.equal(logits[0, start:].argmax(-1), together[0])


def test_every_module_runs_when_the_video_is_missing(cfg, tokenizer):
    """ZeRO-3: a batch without video still runs the vision tower (on a dummy, weight zero)."""
    model = moka_model(cfg, tokenizer)
    batch = batches(cfg, tokenizer, model, "right", 2, False)[0]
    batch["modality_ids"] = batch["modality_ids"].masked_fill(batch["modality_ids"] == VIDEO, 0)
    del batch["media"]["video"]
    calls = []
    hook = model.llm.model.visual.register_forward_hook(lambda *a: calls.append("visual"))
    model.train()
    loss = model(batch)["loss"]
    loss.backward()
    hook.remove()
    assert calls == ["visual"] and torch.isfinite(loss)


@pytest.mark.parametrize("method", available_methods())
def test_method_builds_and_trains_on_qwen25vl(method, cfg, tokenizer):
    model = moka_model(cfg, tokenizer, method).train()
    batch = batches(cfg, tokenizer, model, "right", 2, False)[0]
    loss = model(batch)["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    roles = {model.role_of(n) for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert roles == {"adapter", "projector.audio"}  # the LLM and its vision tower stay frozen
    assert all(".language_model." in n for n in adapter_modules(model.llm))


def test_frames_of_another_size_are_refused_by_name(cfg, tokenizer):
    model = build_model(cfg.model, tokenizer)
    batch = batches(cfg, tokenizer, model, "right", 2, False)[0]
    batch["media"]["video"] = batch["media"]["video"][:, :, :28, :28]
    with pytest.raises(ValueError, match=r"video: .*of \(28, 28\) px.*56 px \(model.native_frame_size\)"):
        model(batch)


def test_config_refuses_a_native_vision_path_without_its_backbone(vlm_dir, workspace, monkeypatch):
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    with pytest.raises(ValueError, match="qwen2_5_vl_vision .*set model.backbone: qwen2_5_vl"):
        load_config(CONFIG, [o for o in overrides(vlm_dir) if not o.startswith("model.backbone")])
    with pytest.raises(ValueError, match="exactly one modality .* encoder.type qwen2_5_vl_vision; got none"):
        load_config(CONFIG, ["model.backbone=qwen2_5_vl"])
    unfrozen = r"model.modalities \['video'\]: encoder.frozen: false, but the backbone's own vision path"
    with pytest.raises(ValueError, match=unfrozen):
        load_config(CONFIG, overrides(vlm_dir) + ["model.modalities.0.encoder.frozen=false"])


def test_feature_cache_refuses_the_native_vision_path(vlm_dir, workspace, monkeypatch, tmp_path):
    from moka_train.train.feature_cache_writer import fill_feature_cache

    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    run = load_config(CONFIG, overrides(vlm_dir) + [f"data.feature_cache={tmp_path / 'cache'}"])
    with pytest.raises(
        ValueError,
        match=r"model.modalities\[0\].encoder.type qwen2_5_vl_vision .*feature cache "
        r"cannot hold it: unset data.feature_cache",
    ):
        fill_feature_cache(run)


@pytest.mark.parametrize("scenario", ["avqa", "ave"])
def test_recipes_budget_320_native_video_tokens_for_10_frames(scenario, monkeypatch, tmp_path):
    from moka_train.model.summary import token_budget

    monkeypatch.setenv("MODEL_ROOT", str(tmp_path))  # no model on disk: the published processor settings
    monkeypatch.setenv("DATA_ROOT", str(tmp_path))
    recipe = load_config(CONFIG.parent / f"{scenario}_qwen25vl.yaml")
    assert recipe.model.backbone == "qwen2_5_vl" and recipe.data.image_size == recipe.model.native_frame_size == 224
    assert [s.name for s in recipe.stages] == ["pretrain_audio", "finetune"]
    budget = token_budget(recipe)
    assert budget["audio"] == 320
    assert budget["video"].startswith("320 (10 frames of 224 px -> 5 temporal x 8 x 8 merged patches")


def test_budget_follows_the_models_own_processor(cfg, vlm_dir):
    from moka_train.model.summary import token_budget, trainable_parameters

    assert token_budget(cfg)["video"].startswith(f"{VIDEO_TOKENS} (4 frames of 56 px -> 2 temporal x 2 x 2")
    model = build_model(cfg.model, load_tokenizer(cfg.model), cfg.adapter)
    adapters = sum(p.numel() for m in adapter_modules(model.llm).values() for _, p in m.adapter_named_parameters())
    assert trainable_parameters(cfg)["adapter"] == adapters  # the language model's layers only


def test_gradient_checkpointing_gives_the_same_loss_and_gradients(vlm_dir, workspace, monkeypatch):
    """The recipes train with model.gradient_checkpointing: true."""
    monkeypatch.setenv("DEMO_ROOT", str(workspace))
    results = []
    for flag in ("false", "true"):
        run = load_config(CONFIG, overrides(vlm_dir) + [f"model.gradient_checkpointing={flag}"])
        tok = load_tokenizer(run.model)
        model = moka_model(run, tok).train()
        loss = model(batches(run, tok, model, "right", 2, False)[0])["loss"]
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((loss.detach(), grads))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert torch.allclose(loss_a, loss_b) and grads_a.keys() == grads_b.keys() and grads_a
    assert all(torch.allclose(grads_a[k], grads_b[k], atol=1e-6) for k in grads_a)


def test_packed_batches_are_refused_by_name(cfg, tokenizer):
    model = build_model(cfg.model, tokenizer)
    batch = batches(cfg, tokenizer, model, "right", 2, False)[0]
    batch["segment_ids"] = torch.zeros_like(batch["input_ids"])
    with pytest.raises(ValueError, match="data.packing: the qwen2_5_vl backbone .*packing is not supported"):
        model(batch)


@pytest.mark.parametrize("frames,size", [(4, 56), (10, 224), (5, 100)])
def test_native_token_count_is_the_processors_own(frames, size):
    from transformers import Qwen2VLVideoProcessor

    from moka_train.model.vision_language import QWEN25VL_PROCESSOR, native_video_tokens

    processor = Qwen2VLVideoProcessor(**QWEN25VL_PROCESSOR)
    video = torch.randint(0, 256, (frames, 3, size, size), dtype=torch.uint8)
    grid = processor(videos=[video], return_tensors="pt", cap_pixels_per_frame=False)["video_grid_thw"][0]
    tokens, ours = native_video_tokens(processor, frames, size)
    assert tuple(grid.tolist()) == ours and tokens == int(grid.prod()) // 4
