"""Peak memory and time of the LM loss (forward + backward from the last hidden states): the causal
LM's own loss over every position's fp32 logits vs the chunked loss on the labelled positions only.

    python scripts/bench_loss.py                          # LLaMA-3 vocabulary, hidden 4096, T = 768 and 2048, B = 4
    python scripts/bench_loss.py --hidden 1024 --rounds 2 # cheaper on a small CPU (logit memory does not depend on d)

Each case's memory is measured in a fresh process; a case whose old path would exceed
``--old-budget-gb`` runs the old path at the largest batch that fits and scales it linearly
(``old_extrapolated``). Prints one JSON line (see moka_train/bench/loss.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from moka_train.bench.loss import LLAMA3_VOCAB, LossCase, loss_report  # noqa: E402
from moka_train.bench.timing import Schedule  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=LLAMA3_VOCAB)
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, nargs="+", default=[768, 2048])
    parser.add_argument("--answer-fraction", type=float, default=0.1, help="labelled share of each row")
    parser.add_argument("--old-budget-gb", type=float, default=6.0, help="largest old-path peak to run for real")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args(argv)
    base = LossCase(vocab=args.vocab, hidden=args.hidden, batch=args.batch, answer_fraction=args.answer_fraction)
    report = loss_report(base, args.seq, args.old_budget_gb, Schedule(rounds=args.rounds, warmup=args.warmup))
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
