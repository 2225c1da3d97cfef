"""Record keys a modality also reads (``model.modalities[].accepts``, ``stages[].media.<m>.accepts``).

The official stage 1 trains one visual projector on image and video captions: an image goes
through the same CLIP + Q-Former + MLP as a video, as a 1-frame video (AVT
``models/unified_arch.py``: ``<image>`` and ``<video>`` both call ``encode_video`` and both set the
video mask). Here a record's ``image`` file becomes that modality's item (one frame) and its
``<image>`` placeholder the modality's placeholder, before rendering, so the placeholder expansion,
the media loading and the model all see one modality; the file is still decoded as the kind of its
own key (``data.media_kinds``).
"""

from __future__ import annotations

from dataclasses import replace

from ..modality import ModalitySpec
from .records import Sample
from .templates import Turn


def accepted_keys(specs: list[ModalitySpec]) -> dict[str, ModalitySpec]:
    """Record key -> the modality that reads it."""
    return {key: spec for spec in specs for key in spec.accepts}


def read_accepted(sample: Sample, accepted: dict[str, ModalitySpec]) -> Sample:
    """``sample`` with every accepted key's file moved to its modality and the key's placeholder
    (``<key>``) rewritten to the modality's. A sample that also carries the modality itself is
    left as it is (the renderer then refuses the unknown key by name)."""
    keys = [k for k in sample.media if k in accepted and accepted[k].name not in sample.media]
    if not keys:
        return sample
    media, origin, turns = dict(sample.media), dict(sample.media_keys), list(sample.turns)
    for key in keys:
        spec = accepted[key]
        media[spec.name] = media.pop(key)
        origin[spec.name] = key
        turns = [Turn(t.role, t.text.replace(f"<{key}>", spec.placeholder)) if t.role == "user" else t for t in turns]
    return replace(sample, media=media, media_keys=origin, turns=tuple(turns))
