"""The official MokA prompt form, defined once for the converters, inference, serving and tests.

GeWu-Lab/MokA AudioVisualText/dataset/unified_dataset.py (lines 73 and 295) announces each medium
on a line of its own with its placeholder on the next, then the question::

    This is a video:\\n<video>\\nThis is an audio:\\n<audio>\\nPlease answer this question: Q

The official code writes the marker triple ``<video_start><video><video_end>`` where this text has
the single placeholder; ``data.prompt_style: official`` puts the markers back at render time.
"""

from __future__ import annotations

QUESTION_LEAD = "Please answer this question: "


def media_lead_in(name: str, placeholder: str) -> str:
    """One medium's announcement: ``"This is a video:\\n<video>\\n"``."""
    article = "an" if name[0] in "aeiou" else "a"
    return f"This is {article} {name}:\n{placeholder}\n"


AV_LEAD_IN = media_lead_in("video", "<video>") + media_lead_in("audio", "<audio>")


def question_prompt(lead_in: str, question: str) -> str:
    """The media lead-in, then the question as the official code asks it."""
    return lead_in + QUESTION_LEAD + question
