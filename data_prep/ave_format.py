"""AVE (YapengTian/AVE-ECCV18): the annotation files and the media layouts, for the train and the
test converter. The line parser is the scorer's (``moka_train.eval.metrics.ave.parse_annotations``):
one parser for converters and scorer.

The release (AVE_Dataset/) holds ``AVE/<id>.mp4``, ``Annotations.txt`` (all 4143 lines) and the
split files ``trainSet.txt`` / ``valSet.txt`` / ``testSet.txt`` in the same
``Category&VideoID&Quality&Start&End`` form. 45 videos are annotated twice (two events), and the
two lines may sit in different splits: rows are therefore made per annotation LINE of the split
file, never per video, and a second line of a video gets the id ``<id>#2``. The official MokA
layout adds ``audio_data/<id>.mp3`` beside ``AVE/``.
"""

from __future__ import annotations

from pathlib import Path

from common import ConversionError

from moka_train.eval.metrics.ave import AveAnnotation, parse_annotations

LAYOUTS = {"video": ("AVE", "video", "videos"), "audio": ("audio_data", "audio")}
LAYOUT_HELP = {"video": "AVE (release), video, videos", "audio": "audio_data (MokA, .mp3), audio"}


def read_lines(path: Path) -> list[AveAnnotation]:
    if not Path(path).is_file():
        raise ConversionError(f"AVE annotation file not found: {path}")
    entries = parse_annotations(Path(path).read_text(encoding="utf-8"), str(path))
    if not entries:
        raise ConversionError(f"{path}: no Category&VideoID&Quality&Start&End lines")
    return entries


def line_key(entry: AveAnnotation) -> tuple:
    return entry.category, entry.video_id, entry.start, entry.end
