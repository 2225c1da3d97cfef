"""MME (MME_Benchmark_release_version/) → unified evaluation JSONL, two yes/no rows per image.

    python data_prep/convert_mme.py --input MME_Benchmark_release_version --output eval/mme.jsonl --media-root DATA

Each subtask folder holds either ``images/`` + ``questions_answer_YES_OR_NO/`` or the images and
their ``.txt`` files side by side; each ``.txt`` line is ``question<TAB>answer``, the question
ending in MME's "Please answer yes or no." The folder must lie under the media root. The prompt is
the official one (``moka_train.eval.protocol.mme_prompt``): the phrase is cut from the question and
the official instruction goes in front, as GeWu-Lab/MokA VisualText/eval_benchmarks/mme/mme.py does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import Conversion, ConversionError, cli, conversation, relative_to_root
from media_lookup import EXTENSIONS

from moka_train.eval.protocol import mme_prompt, mme_question


def question_files(subtask_dir: Path) -> list[tuple[Path, Path]]:
    """(questions .txt, image) pairs of one subtask, in name order."""
    split_layout = subtask_dir / "questions_answer_YES_OR_NO"
    txt_dir, image_dir = (split_layout, subtask_dir / "images") if split_layout.is_dir() else (subtask_dir, subtask_dir)
    pairs = []
    for txt in sorted(txt_dir.glob("*.txt")):
        images = [image_dir / (txt.stem + s) for s in EXTENSIONS["image"] if (image_dir / (txt.stem + s)).is_file()]
        pairs.append((txt, images[0] if images else image_dir / (txt.stem + ".jpg")))  # missing: reported
    return pairs


def parse_line(line: str, where: str) -> tuple[str, str]:
    if "\t" not in line:
        raise ConversionError(f"{where}: expected 'question<TAB>answer', got {line!r}")
    question, answer = (part.strip() for part in line.split("\t", 1))
    try:
        return mme_question(question), answer
    except ValueError as err:
        raise ConversionError(f"{where}: {err}") from None


def convert(args: argparse.Namespace) -> Conversion:
    if not args.input.is_dir():
        raise ConversionError(f"{args.input}: expected the MME_Benchmark_release_version folder")
    conv = Conversion("mme", args.media_root)
    for subtask_dir in sorted(p for p in args.input.iterdir() if p.is_dir()):
        for txt, image in question_files(subtask_dir):
            lines = [ln for ln in txt.read_text(encoding="utf-8").splitlines() if ln.strip()]
            for k, line in enumerate(lines):
                conv.read += 1
                question, answer = parse_line(line, f"{txt}:{k + 1}")
                row = {
                    "id": f"{subtask_dir.name}/{txt.stem}/{k}",
                    "conversations": conversation(mme_prompt(question)),
                    "question": question,
                    "answer": answer.lower(),
                    "subtask": subtask_dir.name,
                }
                conv.add(row, {"image": relative_to_root(image, args.media_root)}, args.drop_missing)
    return conv


main = cli(convert, __doc__)

if __name__ == "__main__":
    raise SystemExit(main())
