"""ASR word error rate (LibriSpeech test-clean / test-other), in percent.

Reference and hypothesis both go through Whisper's English text normaliser (case, punctuation,
spelled-out numbers, British spellings) before jiwer counts substitutions, deletions and
insertions; the WER is corpus-level (total errors / total reference words), pooled and per
``split``. Both modes are the same computation: an empty hypothesis is all deletions, never
skipped, so ``n_unparsed`` counts empty hypotheses only as information.
"""

from __future__ import annotations

from functools import lru_cache

from .common import check_mode, require, result
from .rows import scores_rows


@scores_rows("asr_wer")
def score(rows: list[dict], mode: str = "official") -> dict:
    check_mode(mode)
    refs = [normalise(str(require(r, "answer"))) for r in rows]
    hyps = [normalise(r["prediction"]) for r in rows]
    splits = {}
    for name in dict.fromkeys(str(r["split"]) for r in rows if r.get("split")):
        keep = [i for i, r in enumerate(rows) if str(r.get("split")) == name]
        splits[name] = corpus_wer([refs[i] for i in keep], [hyps[i] for i in keep])
    return result("asr_wer", "wer", corpus_wer(refs, hyps), len(rows), sum(not h for h in hyps), mode, splits=splits)


def corpus_wer(refs: list[str], hyps: list[str]) -> float:
    import jiwer

    pairs = [(r, h) for r, h in zip(refs, hyps) if r]  # jiwer rejects empty references; they have no words to miss
    if not pairs:
        return 0.0
    out = jiwer.process_words([r for r, _ in pairs], [h for _, h in pairs])
    errors = out.substitutions + out.deletions + out.insertions
    return 100.0 * errors / sum(len(r.split()) for r, _ in pairs)


@lru_cache(maxsize=1)
def _normaliser():
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalise(text: str) -> str:
    return _normaliser()(text)
