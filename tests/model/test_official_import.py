"""import-official: state dicts with the official key names and shapes (official module
definitions, tiny configs) are converted, loaded strictly into our model, and compute what the
official layers compute (the reference oracles); a missing or an extra key fails, named."""

import json
import os
from pathlib import Path

import pytest
import torch
from reference.official_checkpoints import (
    hook_official_lora,
    official_stripped,
    write_avt_checkpoint,
    write_stage1_file,
    write_vt_checkpoint,
)
from reference.official_qformer import official_projector

from moka_train.cli import main
from moka_train.config import load_config
from moka_train.data.tokenizer import load_tokenizer
from moka_train.model.build import build_model
from moka_train.model.export import load_export
from moka_train.model.official_import import OfficialImportError, convert_release, write_import

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
OFFICIAL = CONFIGS / "tiny_avqa_official.yaml"
IMAGE_ONLY = [
    "model.modalities=[{name: image, placeholder: <image>, frames: 1, encoder: {type: clip_hf, path: "
    "'${DEMO_ROOT}/clip', layer: -2}, projector: {type: qformer, num_queries: 4, num_layers: 1, "
    "hidden_size: 32, num_heads: 4}}]",
    "adapter.xattn_weight=0.05",
    "adapter.dropout=0.05",
]


def built(config, overrides=(), adapter=True, seed=0):
    cfg = load_config(config, list(overrides))
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(seed)  # the resized vocabulary rows come from the global RNG
    return cfg, build_model(cfg.model, tokenizer, cfg.adapter if adapter else None)


def qformer_dims(projector) -> dict:
    config = projector.qformer.config
    return dict(
        in_dim=projector.in_dim,
        hidden=config.hidden_size,
        layers=config.num_hidden_layers,
        queries=projector.num_queries,
        d_model=projector.out_dim,
    )


@pytest.fixture(scope="module")
def avt(workspace, tmp_path_factory):
    os.environ["DEMO_ROOT"] = str(workspace)
    cfg, model = built(OFFICIAL)
    dims = {m: qformer_dims(model.projectors[m]) for m in ("video", "audio")}
    root = tmp_path_factory.mktemp("official") / "AVQA_checkpoint"
    official = write_avt_checkpoint(
        root,
        model.llm,
        dims,
        peft_config={"r": 444, "lora_alpha": 16, "blc_weight": 1, "lora_dropout": 0.05, "lora_nums": 3},
    )
    return cfg, root, official, dims


def imported(avt, tmp_path, source=None, config=OFFICIAL):
    out = tmp_path / "export"
    code = main(["import-official", "--config", str(config), "--source", str(source or avt[1]), "--output", str(out)])
    return code, out


def mixed_ids():
    # text 0, query text 1 (one span, as the official prompt marks it), video 2, audio 3
    return torch.tensor(
        [[0, 2, 2, 2, 2, 0, 3, 3, 3, 0, 1, 1, 1, 1, 0, 0], [0, 0, 3, 3, 2, 2, 2, 0, 1, 1, 1, 0, 3, 0, 0, 0]]
    )


def test_avt_checkpoint_computes_the_official_layers(avt, tmp_path, capsys):
    cfg, root, official, dims = avt
    code, out = imported(avt, tmp_path)
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "lora_A0 -> text, lora_A1 -> video, lora_A2 -> audio" in printed
    assert "adapter.temperature=official" in printed and "adapter.rank=4" in printed and "adapter.alpha=16.0" in printed
    _, model = built(OFFICIAL, seed=1)
    assert sorted(load_export(model, out)) == ["adapter", "projector.audio", "projector.video"]  # strict
    model.eval()
    _, base = built(OFFICIAL, adapter=False, seed=1)
    ids = mixed_ids()
    x = torch.randn(*ids.shape, model.llm.config.hidden_size)
    model.slot.set(ids)
    with torch.no_grad():
        ours = model.llm(inputs_embeds=x).logits
        hooks = hook_official_lora(
            base.llm,
            official["adapter"],
            "base_model.model.model.",
            ["lora_A0", "lora_A1", "lora_A2"],
            "lora_B0",
            ids,
            16 / 4,
            1.0,
            "official",
        )
        reference = base.llm(inputs_embeds=x).logits
        for h in hooks:
            h.remove()
        swapped = hook_official_lora(
            base.llm,
            official["adapter"],
            "base_model.model.model.",
            ["lora_A0", "lora_A2", "lora_A1"],
            "lora_B0",
            ids,
            4.0,
            1.0,
            "official",
        )
        wrong_order = base.llm(inputs_embeds=x).logits
    for h in swapped:
        h.remove()
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)
    assert (wrong_order - reference).abs().max() > 1e-2  # the check sees the modality order


@pytest.mark.parametrize("name,part,stem", [("video", "vl_projector", "visual"), ("audio", "al_projector", "audio")])
def test_avt_projectors_compute_the_official_qformer(avt, tmp_path, name, part, stem):
    cfg, _, official, dims = avt
    code, out = imported(avt, tmp_path)
    assert code == 0
    _, model = built(OFFICIAL, seed=2)
    load_export(model, out)
    torch.manual_seed(0)
    feats = torch.randn(2, 3, 5, dims[name]["in_dim"])  # [B, F, L, D]
    with torch.no_grad():
        ours = model.projectors[name].eval()(feats)
    sd = official_stripped(official["projectors"], f"base_model.model.model.{part}.")
    heads = model.projectors[name].qformer.config.num_attention_heads
    torch.testing.assert_close(ours, official_projector(sd, stem, feats, heads), atol=1e-5, rtol=1e-5)


def test_manifest_names_every_unused_key_and_the_settings(avt, tmp_path):
    code, out = imported(avt, tmp_path)
    assert code == 0
    info = json.loads((out / "manifest.json").read_text())["official"]
    unused = [k for keys in info["unused"].values() for k in keys]
    # per Q-Former: word + position embeddings, the LM head (5), the text-token FFN of each layer (6)
    layers = avt[3]["video"]["layers"]
    assert len(unused) == 2 * (2 + 5 + 6 * layers)
    assert "non_lora_trainables.bin: base_model.model.model.vl_projector.visual_Qformer.cls.predictions.bias" in unused
    assert info["adapter"] == {
        "rank": 4,
        "alpha": 16.0,
        "temperature": "official",
        "xattn_weight": 1.0,
        "dropout": 0.05,
        "method": "moka",
    }
    assert info["slot_order"] == {"lora_A0": "text", "lora_A1": "video", "lora_A2": "audio"}


def _rewrite(path: Path, edit) -> None:
    tensors = torch.load(path, weights_only=True)
    edit(tensors)
    torch.save(tensors, path)


@pytest.mark.parametrize(
    "file,key",
    [
        ("adapter_model.bin", "base_model.model.model.layers.1.mlp.down_proj.lora_A2.weight"),
        (
            "non_lora_trainables.bin",
            "base_model.model.model.al_projector.audio_Qformer.bert.encoder.layer.0.crossattention.self.key.weight",
        ),
    ],
)
def test_a_missing_key_fails_naming_it(avt, tmp_path, capsys, file, key):
    import shutil

    root = tmp_path / "ckpt"
    shutil.copytree(avt[1], root)
    _rewrite(root / file, lambda t: t.pop(key))
    code, out = imported(avt, tmp_path, source=root)
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert "missing" in err and key in err


@pytest.mark.parametrize(
    "file,key",
    [
        ("adapter_model.bin", "base_model.model.model.layers.0.self_attn.q_proj.lora_A3.weight"),
        ("non_lora_trainables.bin", "base_model.model.model.vl_projector.visual_gate.weight"),
    ],
)
def test_an_extra_key_fails_naming_it(avt, tmp_path, capsys, file, key):
    import shutil

    root = tmp_path / "ckpt"
    shutil.copytree(avt[1], root)
    _rewrite(root / file, lambda t: t.__setitem__(key, torch.zeros(4, 64)))
    code, out = imported(avt, tmp_path, source=root)
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert f"{root / file}" in err and key in err


def test_a_recipe_with_other_adapter_settings_is_refused_by_name(avt, tmp_path, capsys):
    code, _ = imported(avt, tmp_path, config=CONFIGS / "tiny_avqa.yaml")  # temperature: paper
    assert code == 2
    err = capsys.readouterr().err
    assert "adapter.temperature is 'paper', the official weights need 'official'" in err
    assert "adapter.temperature=official" in err


def test_adapter_config_rank_must_agree_with_the_weights(avt, tmp_path, capsys):
    import shutil

    root = tmp_path / "ckpt"
    shutil.copytree(avt[1], root)
    (root / "adapter_config.json").write_text(json.dumps({"r": 888, "lora_alpha": 16}))
    code, _ = imported(avt, tmp_path, source=root)
    assert code == 2 and "r=888 disagrees with the rank-4 weights" in capsys.readouterr().err


def test_stage1_files_become_projector_exports(avt, tmp_path):
    cfg, _, _, dims = avt
    _, model = built(CONFIGS / "tiny_avqa.yaml", adapter=False)
    vocab, width = model.llm.get_input_embeddings().weight.shape
    files = {
        "video": (tmp_path / "visual_pretrain.bin", "vl_projector", "visual"),
        "audio": (tmp_path / "audio_pretrain.bin", "al_projector", "audio"),
    }
    written = {
        m: write_stage1_file(p, part, stem, dims[m], vocab + 11, width, seed=i)
        for i, (m, (p, part, stem)) in enumerate(files.items())
    }
    converted = convert_release([str(p) for p, _, _ in files.values()], cfg.model)
    assert converted.settings is None and sorted(converted.roles) == ["projector.audio", "projector.video"]
    ((reason, keys),) = [(r, k) for r, k in converted.unused.items() if "embed_tokens" in r]
    assert keys == ["visual_pretrain.bin: model.embed_tokens.weight", "audio_pretrain.bin: model.embed_tokens.weight"]
    out = write_import(model, converted, tmp_path / "export", "", "stage1", [])
    _, fresh = built(CONFIGS / "tiny_avqa.yaml", adapter=False, seed=3)
    assert sorted(load_export(fresh, out)) == ["projector.audio", "projector.video"]
    feats = torch.randn(1, 2, 5, dims["audio"]["in_dim"])
    sd = official_stripped(written["audio"], "model.al_projector.")
    with torch.no_grad():
        torch.testing.assert_close(
            fresh.projectors["audio"].eval()(feats), official_projector(sd, "audio", feats, 4), atol=1e-5, rtol=1e-5
        )


def test_a_stage1_file_without_a_matching_modality_is_refused(avt, tmp_path):
    cfg = load_config(CONFIGS / "tiny_avqa.yaml", IMAGE_ONLY)  # no BEATs modality
    path = tmp_path / "audio_pretrain.bin"
    write_stage1_file(path, "al_projector", "audio", avt[3]["audio"], 10, 8)
    with pytest.raises(OfficialImportError, match="model.al_projector.*no BEATs modality"):
        convert_release([str(path)], cfg.model)


def test_visual_text_checkpoint_computes_the_official_layers(workspace, tmp_path):
    os.environ["DEMO_ROOT"] = str(workspace)
    cfg, model = built(CONFIGS / "tiny_avqa.yaml", IMAGE_ONLY)  # temperature paper, as the VT layer
    dims = qformer_dims(model.projectors["image"])
    _, base = built(CONFIGS / "tiny_avqa.yaml", IMAGE_ONLY, adapter=False)
    official = write_vt_checkpoint(tmp_path / "MokA_VisualText", base.llm, dims)
    converted = convert_release([str(tmp_path / "MokA_VisualText")], cfg.model)
    assert converted.settings.temperature == "paper" and converted.settings.xattn_weight == 0.05
    unused = {r: len(k) for r, k in converted.unused.items()}
    assert sum(n for r, n in unused.items() if "lora_B.text" in r) == 7 * len(base.llm.model.layers)  # lora_B.image
    out = write_import(model, converted, tmp_path / "export", "", "official", [])
    _, fresh = built(CONFIGS / "tiny_avqa.yaml", IMAGE_ONLY, seed=0)  # same added rows as base
    load_export(fresh, out)
    fresh.eval()
    ids = torch.tensor([[0, 2, 2, 2, 2, 0, 1, 1, 1, 0, 0, 1, 1, 0]])  # question tokens need not be one span
    x = torch.randn(*ids.shape, fresh.llm.config.hidden_size)
    fresh.slot.set(ids)
    with torch.no_grad():
        ours = fresh.llm(inputs_embeds=x).logits
        hook_official_lora(
            base.llm,
            official,
            "base_model.model.model.language_model.",
            ["lora_A.text", "lora_A.image"],
            "lora_B.text",
            ids,
            16 / 4,
            0.05,
            "paper",
        )
        reference = base.llm(inputs_embeds=x).logits
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)


def test_cli_imports_both_stage1_files_into_one_export(avt, tmp_path, capsys):
    dims = avt[3]
    for part, stem, name in (("vl_projector", "visual", "video"), ("al_projector", "audio", "audio")):
        write_stage1_file(tmp_path / f"{stem}_pretrain.bin", part, stem, dims[name], 20, 8)
    out = tmp_path / "export"
    code = main(
        [
            "import-official",
            "--config",
            str(CONFIGS / "tiny_avqa.yaml"),
            "--source",
            str(tmp_path / "visual_pretrain.bin"),
            str(tmp_path / "audio_pretrain.bin"),
            "--output",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    # per Q-Former: norm (2), queries, proj (4), the embeddings' LayerNorm (2), 26 per layer (61 for the official 2)
    assert f"projector.video: {9 + 26 * dims['video']['layers']} tensors" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["official"]["release"] == "projector" and manifest["official"]["adapter"] is None
    assert sorted(f["role"] for f in manifest["files"].values()) == ["projector.audio", "projector.video"]
