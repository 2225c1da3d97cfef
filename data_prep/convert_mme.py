"""MME (MME_Benchmark_release_version/) → unified evaluation JSONL, two yes/no rows per image.

    python data_prep/convert_mme.py --input MME_Benchmark_release_version --output eval/mme.jsonl --media-root DATA

Each subtask folder holds either ``images/`` + ``questions_answer_YES_OR_NO/`` or the images and
their ``.txt`` files side by side; each ``.txt`` has one ``question<TAB>answer`` per line. The
folder must lie under the media root (image paths are written relative to it).
"""

from __future__ import annotations

from pathlib import Path

from common import IMAGE_LEAD_IN, base_parser, finish, human_turn, relative_to_root

PROMPT = "Please answer this question with yes or no, and no other content. Question: {q}"
IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg")


def question_files(subtask_dir: Path) -> list[tuple[Path, Path]]:
    """(questions .txt, image) pairs of one subtask, in name order."""
    split_layout = subtask_dir / "questions_answer_YES_OR_NO"
    txt_dir, image_dir = (split_layout, subtask_dir / "images") if split_layout.is_dir() else (subtask_dir, subtask_dir)
    pairs = []
    for txt in sorted(txt_dir.glob("*.txt")):
        images = [image_dir / (txt.stem + s) for s in IMAGE_SUFFIXES if (image_dir / (txt.stem + s)).is_file()]
        pairs.append((txt, images[0] if images else image_dir / (txt.stem + ".jpg")))  # missing: reported later
    return pairs


def convert(release_dir: Path, media_root: Path) -> list[dict]:
    rows = []
    for subtask_dir in sorted(p for p in release_dir.iterdir() if p.is_dir()):
        for txt, image in question_files(subtask_dir):
            lines = [ln for ln in txt.read_text(encoding="utf-8").splitlines() if ln.strip()]
            for k, line in enumerate(lines):
                if "\t" not in line:
                    raise ValueError(f"{txt}:{k + 1}: expected 'question<TAB>answer', got {line!r}")
                question, answer = (part.strip() for part in line.split("\t", 1))
                rows.append({"id": f"{subtask_dir.name}/{txt.stem}/{k}", "image": relative_to_root(image, media_root),
                             "conversations": human_turn(IMAGE_LEAD_IN + PROMPT.format(q=question)),
                             "question": question, "answer": answer.lower(), "subtask": subtask_dir.name})
    return rows


def main(argv: list[str] | None = None) -> dict:
    args = base_parser(__doc__.splitlines()[0]).parse_args(argv)
    return finish(convert(args.input, args.media_root), args, "mme")


if __name__ == "__main__":
    main()
