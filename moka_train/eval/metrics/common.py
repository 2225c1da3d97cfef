"""Helpers shared by the benchmark scorers: the result record, modes, and answer parsing.

Two modes everywhere: ``official`` reproduces the published MokA evaluation scripts (quirks
included, see each scorer's docstring); ``strict`` counts every unparsable answer as wrong and
fixes the known bugs. Parsers return ``None`` for an answer they cannot read.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable

MODES = ("official", "strict")


class ScoringError(ValueError):
    """A prediction row a scorer cannot use (a missing truth field, an unknown mode); names the row."""


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ScoringError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    return mode


def percent(numerator: float, denominator: float) -> float:
    """100·n/d, and 0.0 for an empty set (a scorer on zero rows should not divide by zero)."""
    return 100.0 * numerator / denominator if denominator else 0.0


def result(benchmark: str, metric: str, value: float, n: int, n_unparsed: int, mode: str, **breakdown) -> dict:
    return {
        "benchmark": benchmark,
        "metric": metric,
        "value": value,
        "n": n,
        "n_unparsed": n_unparsed,
        "mode": mode,
        **breakdown,
    }


def accuracy_result(benchmark: str, correct: list[bool], n: int, n_unparsed: int, mode: str, **breakdown) -> dict:
    """An accuracy result: the percent of ``correct`` verdicts that hold (``n`` rows in all; a
    scorer that leaves unparsed rows out scores fewer verdicts than rows). No verdict at all is an
    error, never 0.0: an accuracy over nothing reads as a result."""
    if not correct:
        raise nothing_scorable(benchmark, n, n_unparsed, mode)
    return result(benchmark, "accuracy", percent(sum(correct), len(correct)), n, n_unparsed, mode, **breakdown)


def nothing_scorable(benchmark: str, n: int, n_unparsed: int, mode: str) -> ScoringError:
    """The error of a score over zero scorable rows: what happened, and what to check."""
    return ScoringError(
        f"{benchmark} ({mode} mode): none of the {n} rows can be scored ({n_unparsed} unparsed answers), "
        f"so there is no score (not 0.0); the predictions do not have the form the {benchmark} parser reads "
        f"(moka_train/eval/metrics/{benchmark}.py): check that --benchmark names the data's benchmark, "
        "or use --mode strict to count unparsed answers wrong"
    )


def require(row: dict, key: str) -> object:
    """row[key], or an error naming the row and the field (a truth field must never default)."""
    if row.get(key) is None:
        raise ScoringError(f"prediction row {row.get('id', '?')!r} has no {key!r} field")
    return row[key]


def accuracy_by(rows: Iterable[dict], correct: Iterable[bool], key: Callable[[dict], str]) -> dict[str, float]:
    """Accuracy (percent) per group, groups in order of first appearance."""
    hits, totals = defaultdict(int), defaultdict(int)
    for row, ok in zip(rows, correct):
        group = key(row)
        totals[group] += 1
        hits[group] += bool(ok)
    return {g: percent(hits[g], totals[g]) for g in totals}


# --- yes / no -----------------------------------------------------------------------------------


def yes_no_official(text: str) -> str | None:
    """The MokA scripts' rule: "yes" anywhere (any case), else "no" anywhere, else unreadable.

    "no" is matched as a substring, so "not", "know" or "snow" read as "no": kept on purpose.
    """
    lowered = text.lower()
    if "yes" in lowered:
        return "yes"
    if "no" in lowered:
        return "no"
    return None


def yes_no_strict(text: str) -> str | None:
    """The first word, if it is yes or no."""
    words = re.findall(r"[a-z]+", text.lower())
    return words[0] if words and words[0] in ("yes", "no") else None


def yes_no(text: str, mode: str) -> str | None:
    return yes_no_official(text) if mode == "official" else yes_no_strict(text)


# --- multiple choice ----------------------------------------------------------------------------


def choice_official(text: str, letters: str) -> str | None:
    """The MokA MMBench/SEED rule: strip and lowercase the output, then the first of ``'a '``,
    ``'b '``, ... (in letter order, not position order) found as a substring wins.

    So "B. a cat " reads as A, because "a " is tried before "b ", and a bare "B" (no end-of-sequence
    token after it, so nothing follows the letter once stripped) is unreadable: quirks we reproduce.
    """
    lowered = text.strip().lower()
    for letter in letters:
        if f"{letter.lower()} " in lowered:
            return letter.upper()
    return None


def choice_strict(text: str, letters: str) -> str | None:
    """The leading option letter: "B", "(B) a cat", "B. a cat", "B)" — nothing else."""
    match = re.match(r"\s*\(?([A-Za-z])(?:$|[).:,\s])", text)
    if match and match.group(1).upper() in letters.upper():
        return match.group(1).upper()
    return None


# --- options given as texts (MMAU, AIR-Bench) ---------------------------------------------------


def option_texts(row: dict) -> list[str]:
    """Option texts in letter order: ``choices`` (MMAU), ``options`` (our converters' list or
    letter-keyed dict), or ``choice_a``..``choice_d`` (AIR-Bench)."""
    options = row.get("choices") or row.get("options")
    if isinstance(options, dict):
        return [str(options[k]) for k in sorted(options)]
    if isinstance(options, list):
        return [str(o) for o in options]
    return [str(row[f"choice_{k}"]) for k in "abcdefgh" if row.get(f"choice_{k}") is not None]


def normalise_words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def option_strict(text: str, options: list[str]) -> str | None:
    """A leading option letter, else the one option whose words are the whole answer or appear in it
    (two or more options found: unreadable)."""
    letter = choice_strict(text, "ABCDEFGH"[: len(options)])
    if letter is not None:
        return options["ABCDEFGH".index(letter)]
    said = f" {normalise_words(text)} "
    exact = [o for o in options if normalise_words(o) == said.strip()]
    if exact:
        return exact[0]
    found = [o for o in options if normalise_words(o) and f" {normalise_words(o)} " in said]
    return found[0] if len(found) == 1 else None
