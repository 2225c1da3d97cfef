"""The AVQA and AVE recipes cut audio windows and pick video frames exactly as the official
GeWu-Lab/MokA code (AudioVisualText/dataset/unified_dataset.py) does.

The official formulas are written out again here, independently of moka_train, from that file:
``nums_per_second = int(len / tot)``; AVQA: for t in range(0, 60, 6), the slice
``audio[int(max(0, t-0.5) * nps) : int(nps * min(60, t+1.5))]`` zero-padded in front (t-0.5 < 0)
or behind (t+1.5 > 60) to ``2 * nps``; AVE: for t in range(10), ``audio[int(t * nps) :
int(nps * min(10, t+1))]`` zero-padded behind to ``nps``; frames ``np.arange(0, n, n / F).astype(int)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from moka_train.config import load_config
from moka_train.model.multimodal_lm import audio_windows
from moka_train.utils.media_sampling import frame_indices

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SR = 16000
CLIP_SECONDS = (60.0, 59.7, 10.0, 9.9)


def official_avqa_windows(audio: np.ndarray) -> np.ndarray:
    length, tot = len(audio), 60
    nps = int(length / tot)
    windows = []
    for indice in range(0, 60, 6):
        start_time, end_time = max(0, indice - 0.5), min(tot, indice + 1.5)
        seg = audio[int(start_time * nps) : int(nps * end_time)]
        if indice - 0.5 < 0:
            seg = np.concatenate((np.zeros(2 * nps - len(seg)), seg))
        if indice + 1.5 > tot:
            seg = np.concatenate((seg, np.zeros(2 * nps - len(seg))))
        windows.append(seg)
    return np.stack(windows)


def official_ave_windows(audio: np.ndarray) -> np.ndarray:
    length, tot = len(audio), 10
    nps = int(length / tot)
    windows = []
    for indice in range(tot):
        seg = audio[int(max(0, indice) * nps) : int(nps * min(tot, indice + 1))]
        if len(seg) < nps:
            seg = np.concatenate((seg, np.zeros(nps - len(seg))))
        windows.append(seg)
    return np.stack(windows)


def official_frame_indices(vlen: int, frames: int) -> list[int]:
    return np.arange(0, vlen, vlen / min(frames, vlen)).astype(int).tolist()


@pytest.fixture(autouse=True)
def _roots(monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_ROOT", str(tmp_path / "models"))
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))


def recipe_plans(recipe: str):
    video, audio = load_config(CONFIGS / recipe).model.modalities
    return video.sampling_plan(), audio.sampling_plan()


@pytest.mark.parametrize(
    "recipe, official",
    [
        ("avqa_llama3.yaml", official_avqa_windows),
        ("avqa_qwen2.yaml", official_avqa_windows),
        ("ave_llama2.yaml", official_ave_windows),
        ("ave_qwen25.yaml", official_ave_windows),
    ],
)
def test_recipe_audio_windows_equal_the_official_cut_sample_for_sample(recipe, official):
    _, plan = recipe_plans(recipe)
    lengths = [round(s * SR) for s in CLIP_SECONDS] + [959_999, 159_991]  # and odd samples-per-second
    # sample i of a clip holds i + 1, so a window's values name the samples it took (0 = padding)
    clips = [np.arange(1, n + 1, dtype=np.float64) for n in lengths]
    batch = torch.zeros(len(clips), max(lengths), dtype=torch.float64)  # zero-padded as the collator does
    for row, clip in enumerate(clips):
        batch[row, : len(clip)] = torch.from_numpy(clip)
    groups = audio_windows(batch, torch.tensor(lengths), plan, plan.count, plan.nominal_width())
    assert sorted(int(r) for rows, _ in groups for r in rows) == list(range(len(clips)))
    for rows, windows in groups:
        for row, got in zip(rows.tolist(), windows):
            expected = official(clips[row])
            assert got.shape == expected.shape, (recipe, lengths[row])
            assert torch.equal(got, torch.from_numpy(expected)), (recipe, lengths[row])


def test_avqa_windows_are_spread_over_the_minute_with_the_lead():
    _, plan = recipe_plans("avqa_llama3.yaml")
    clip = torch.arange(1, 60 * SR + 1, dtype=torch.float64)[None]
    ((_, windows),) = audio_windows(clip, torch.tensor([60 * SR]), plan, plan.count, plan.nominal_width())
    first_sample = windows[0, :, -1] - 2 * SR + 1  # where each window starts, in seconds below
    assert ((first_sample - 1) / SR).tolist()[1:] == [t - 0.5 for t in range(6, 60, 6)]
    assert windows[0, 0, : SR // 2].eq(0).all() and windows[0, 0, SR // 2] == 1  # t=0: 0.5 s of zeros in front


@pytest.mark.parametrize("recipe", ["avqa_llama3.yaml", "ave_llama3.yaml"])
@pytest.mark.parametrize("vlen", [1800, 1791, 300, 297, 1433, 250, 10, 7])
def test_recipe_frames_are_the_official_segment_starts(recipe, vlen):
    plan, _ = recipe_plans(recipe)
    ours = frame_indices(vlen, plan.count, plan.frame_position).tolist()
    official = official_frame_indices(vlen, plan.count)
    if vlen >= plan.count:
        assert ours == official
    else:  # the official code returns all vlen frames, fewer than asked; ours keeps the count, repeating
        assert len(ours) == plan.count and ours == sorted(ours) and sorted(set(ours)) == official


def test_default_sampling_keeps_the_first_seconds_in_consecutive_segments(monkeypatch):
    # tiny_avqa (and any config that sets nothing): 2 x 0.5 s from the start, frames at segment centres
    monkeypatch.setenv("DEMO_ROOT", "/nonexistent")
    video, audio = load_config(CONFIGS / "tiny_avqa.yaml").model.modalities
    plan = audio.sampling_plan()
    clip = torch.arange(1, 3 * SR + 1, dtype=torch.float32)[None]
    ((_, windows),) = audio_windows(clip, torch.tensor([3 * SR]), plan, plan.count, plan.nominal_width())
    assert torch.equal(windows[0].flatten(), clip[0, :SR])
    assert frame_indices(8, 4, video.sampling_plan().frame_position).tolist() == [1, 3, 5, 7]


def test_audio_beyond_the_windows_is_counted_never_silently_cut(synthetic_root, tmp_path, load_tokenizer):
    # speech longer than its consecutive windows (whisper: 30 s) is cut: a note in the data report
    import json

    from data_helpers import write_jsonl

    from moka_train.config.sections.data import DataConfig
    from moka_train.data.dataset import MultimodalDataset
    from moka_train.modality import build_modality_specs
    from moka_train.utils.media_sampling import SamplingPlan

    plan = SamplingPlan(kind="audio", count=1, window_seconds=0.25)
    specs = build_modality_specs([("speech", "<speech>", 4)], {"speech": plan})
    rows = [json.loads(line) for line in (synthetic_root / "speech_qa.jsonl").read_text().splitlines()][:2]
    file = write_jsonl(tmp_path / "speech.jsonl", rows)
    data = DataConfig(root=str(synthetic_root), train_file=str(file), template="llama3")
    tokenizer = load_tokenizer("llama3")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<speech>"]})
    ds = MultimodalDataset.from_file(file, data, tokenizer, specs)
    item = ds[0]
    seconds = item["media"]["speech"].numel() / SR
    assert seconds > 0.25
    (note,) = item["bad_samples"]
    assert note["note"] and note["reason"] == "audio_truncated" and note["id"] == rows[0]["id"]
    assert f"{seconds:.2f} s; only the first 0.25 s" in note["detail"]
    assert ds.report.num_bad == 0 and list(ds.report.to_dict()["notes"]) == ["audio_truncated"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.modalities.1.sampling.frame_position=start", "frame_position applies to video encoders"),
        ("model.modalities.0.sampling.time_unit=nominal", "apply to audio encoders"),
        ("model.modalities.1.sampling.nominal_seconds=null", "time_unit 'nominal' needs nominal_seconds"),
        ("model.modalities.1.projector.type=mlp", "the mlp projector needs a fixed count"),
    ],
)
def test_sampling_that_cannot_work_is_refused_naming_the_key(override, message):
    from moka_train.config import ConfigError

    with pytest.raises((ConfigError, ValueError), match=message):
        load_config(CONFIGS / "avqa_llama3.yaml", [override])


def test_whisper_windows_longer_than_30_s_are_refused(monkeypatch):
    from moka_train.config import ConfigError

    with pytest.raises((ConfigError, ValueError), match="whisper encodes at most 30 s per window"):
        load_config(CONFIGS / "speech_llama3.yaml", ["model.modalities.0.segment_seconds=40"])


def test_validate_prints_the_sampling_and_the_temperature_in_force(capsys, monkeypatch, tmp_path):
    from recipe_inputs import create_recipe_inputs

    from moka_train.cli import main

    monkeypatch.setenv("PRETRAIN_EXPORT", str(tmp_path / "pretrain"))
    for recipe in ("avqa_llama3", "ave_llama3"):
        create_recipe_inputs(CONFIGS / f"{recipe}.yaml")  # validate refuses inputs that do not exist
    assert main(["validate", "--config", str(CONFIGS / "avqa_llama3.yaml")]) == 0
    out = capsys.readouterr().out
    assert "# video: 10 frame(s) at the segment starts (official) of 10 equal segments" in out
    assert (
        "# audio: 10 window(s) of 2 s at [t - 0.5, t + 1.5], t = 0, 6, ..., 54 "
        "(one second = clip samples / 60; zero-padded at the edges)"
    ) in out
    assert "# adapter.temperature: official (sqrt(r) on the scaled rank vectors" in out
    assert main(["validate", "--config", str(CONFIGS / "ave_llama3.yaml"), "adapter.temperature=paper"]) == 0
    out = capsys.readouterr().out
    assert "t = 0, 1, ..., 9 (one second = clip samples / 10" in out and "# adapter.temperature: paper (" in out
