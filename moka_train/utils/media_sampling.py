"""Which instants of a clip an encoder sees: video frame indices and audio window sample ranges.

One :class:`SamplingPlan` per modality (built from ``model.modalities[i]`` by
``ModalityConfig.sampling_plan``) drives data loading, the model's audio cutting, the feature-cache
key and ``validate``'s printout, so the four can never disagree.

Audio windows (``count`` of them, ``window_seconds`` long) are anchored either consecutively from
the clip start (window k at k·W, the official AVE cut) or spread over the clip (window k at
k·D/count, D the clip duration, the official MUSIC-AVQA cut), and start ``lead_seconds`` before
their anchor. A "second" is either a real second (``sample_rate`` samples) or, as the official code
measures it, ``int(clip samples / nominal_seconds)`` samples (``time_unit: nominal``), so a 59.7 s
MUSIC-AVQA clip is still cut at "0, 6, ..., 54 s" of its 60 nominal seconds. The parts of a
window outside the clip are zeros: in front of a window that starts before the clip, behind the
clip's end otherwise (both as the official code pads).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

# sample positions are floor(seconds x samples-per-second); the nudge keeps float noise such as
# 0.3 * 16000 = 4799.999... on the right side of the integer without moving the official
# half-second positions (exact in binary floating point)
_FLOAT_NUDGE = 1e-6


@dataclass(frozen=True)
class SamplingPlan:
    kind: str  # "visual" (frames) or "audio" (waveform windows)
    count: int  # frames per clip, or audio windows per clip
    frame_position: str = "centre"  # "start" (official np.arange(0, n, n/F)) or "centre" of each segment
    window_seconds: float = 1.0
    placement: str = "consecutive"  # or "spread"
    lead_seconds: float = 0.0
    time_unit: str = "real"  # or "nominal"
    nominal_seconds: float | None = None
    sample_rate: int = 16000

    def describe(self) -> str:
        """One line for ``validate`` and the logs."""
        if self.kind == "visual":
            where = "segment starts (official)" if self.frame_position == "start" else "segment centres"
            return f"{self.count} frame(s) at the {where} of {self.count} equal segments"
        if self.placement == "spread":
            step = self.nominal_seconds / self.count if self.time_unit == "nominal" else None
            anchors = (
                f"t = 0, {step:g}, ..., {step * (self.count - 1):g}"
                if step is not None
                else f"t = k x clip length / {self.count}"
            )
        else:
            anchors = f"t = 0, {self.window_seconds:g}, ..., {self.window_seconds * (self.count - 1):g}"
        unit = (
            f"one second = clip samples / {self.nominal_seconds:g}"
            if self.time_unit == "nominal"
            else f"real seconds at {self.sample_rate} Hz"
        )
        return (
            f"{self.count} window(s) of {self.window_seconds:g} s at [t - {self.lead_seconds:g}, "
            f"t + {self.window_seconds - self.lead_seconds:g}], {anchors} ({unit}; zero-padded at the edges)"
        )

    def nominal_width(self) -> int:
        """Samples per window for a clip of exactly ``nominal_seconds`` (or real time)."""
        return _to_samples(torch.tensor(self.window_seconds, dtype=torch.float64) * self.sample_rate).item()


def frame_indices(num_total: int, count: int, position: str) -> np.ndarray:
    """``count`` frame indices of a clip of ``num_total`` frames, one per equal segment.

    ``start``: the official ``np.arange(0, n, n / F).astype(int)`` (computed as k·(n/F), the
    values numpy's arange produces); ``centre``: the middle of each segment. A clip with fewer
    frames than ``count`` repeats frames rather than changing the output shape (the official
    code would return fewer frames).
    """
    if position == "start":
        picks = (np.arange(count) * (num_total / count)).astype(np.int64)
    elif position == "centre":
        picks = ((np.arange(count) + 0.5) * num_total / count).astype(np.int64)
    else:
        raise ValueError(f"frame position {position!r}: choose start or centre")
    return np.minimum(picks, num_total - 1)


def _to_samples(positions: Tensor) -> Tensor:
    return torch.floor(positions + _FLOAT_NUDGE).to(torch.int64)


def window_bounds(lengths: Tensor, plan: SamplingPlan) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per clip of ``lengths [n]`` samples: ``first [n, F]`` (source index of a window's sample 0),
    the valid source range ``[lo, hi)`` ``[n, F]`` each, and the window width ``[n]`` in samples.

    Window sample j of clip i is ``wave[first + j]`` when ``lo <= first + j < hi``, else 0.
    """
    length = lengths.to(torch.float64)[:, None]  # [n, 1]
    if plan.time_unit == "nominal":
        per_second = torch.floor(length / plan.nominal_seconds)  # the official int(len / tot)
        duration = torch.full_like(length, float(plan.nominal_seconds))
    else:
        per_second = torch.full_like(length, float(plan.sample_rate))
        duration = length / plan.sample_rate
    k = torch.arange(plan.count, dtype=torch.float64)[None, :]  # [1, F]
    anchor = k * duration / plan.count if plan.placement == "spread" else k * plan.window_seconds
    start = anchor - plan.lead_seconds  # [n, F]
    end = start + plan.window_seconds
    lo = _to_samples(start.clamp(min=0) * per_second)
    hi = torch.maximum(_to_samples(torch.minimum(end, duration) * per_second), lo)
    width = _to_samples(plan.window_seconds * per_second[:, 0])  # [n]
    # a window that starts before the clip is padded in front: its valid samples end it
    first = torch.where(start < 0, hi - width[:, None], lo)
    return first, lo, hi, width


def cut_windows(waves: Tensor, lengths: Tensor, plan: SamplingPlan) -> list[tuple[Tensor, Tensor]]:
    """Zero-padded waveforms ``[n, S]`` (valid lengths ``[n]``) -> the plan's windows, grouped by
    width (clips measured in nominal seconds differ in samples per window):
    ``[(item positions [g], windows [g, F, width])]``, positions ascending within a group."""
    first, lo, hi, width = window_bounds(lengths.cpu(), plan)
    groups = []
    for w in torch.unique(width).tolist():  # one pass per distinct width (usually one per batch)
        rows = torch.nonzero(width == w).flatten()
        index = first[rows, :, None] + torch.arange(w)  # [g, F, w]
        valid = (index >= lo[rows, :, None]) & (index < hi[rows, :, None])
        index = index.clamp(0, max(waves.shape[1] - 1, 0)).to(waves.device)
        picked = torch.gather(waves[rows.to(waves.device)][:, None, :].expand(-1, plan.count, -1), 2, index)
        groups.append((rows, picked * valid.to(waves.device, waves.dtype)))
    return groups


def covered_samples(length: int, plan: SamplingPlan) -> int:
    """How many leading samples of a clip the windows can reach (the rest is never heard)."""
    _, _, hi, _ = window_bounds(torch.tensor([length]), plan)
    return int(hi.max())
