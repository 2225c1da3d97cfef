"""The MUSIC-AVQA question files (GeWu-Lab/MUSIC-AVQA ``data/json_update/avqa-{train,val,test}.json``;
the older ``data/json/`` copies), read once for the train and the test converter.

An item: ``video_id``, ``question_id``, ``type`` (a list as JSON text, ``'["Audio", "Counting"]'``),
``question_content`` with ``<Object>``-style slots, ``templ_values`` (the slot values, JSON text),
``question_deleted``, and the truth in ``anser`` (sic; ``answer`` is accepted too).

Media layouts tried in order: the release (``video/``, ``audio/``; ``videos/`` is a common
spelling) and the official MokA layout (``video_data/*.mp4``, ``audio_data/*.mp3``).
"""

from __future__ import annotations

from pathlib import Path

from common import ConversionError, fill_template, list_field, read_json, require_keys

FIELDS = ("video_id", "question_id", "type", "question_content", "templ_values")
LAYOUTS = {"video": ("video", "videos", "video_data"), "audio": ("audio", "audio_data")}
LAYOUT_HELP = {"video": "video, videos, video_data (MokA)", "audio": "audio, audio_data (MokA)"}


def read_items(path: Path) -> list[dict]:
    items = read_json(path, list, "a MUSIC-AVQA question list (avqa-*.json)")
    for k, item in enumerate(items):
        require_keys(item, FIELDS, f"{path}: item {k}")
        if "anser" not in item and "answer" not in item:
            raise ConversionError(f"{path}: item {k} (question_id {item['question_id']}) has no 'anser'/'answer'")
    return items


def question(item: dict, where: str) -> str:
    values = list_field(item["templ_values"], f"{where} templ_values")
    return fill_template(item["question_content"], values, f"{where} (question_id {item['question_id']})")


def answer(item: dict) -> str:
    return item["anser"] if "anser" in item else item["answer"]


def question_type(item: dict, where: str) -> list[str]:
    return list_field(item["type"], f"{where} type")
