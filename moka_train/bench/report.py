"""What the benchmarks print: ratios between rows, floats to four significant digits."""

from __future__ import annotations

import math


def ratio(rows: dict, key: str, num: str, den: str) -> float | None:
    """rows[num][key] / rows[den][key]; None when either row did not run."""
    return rows[num][key] / rows[den][key] if num in rows and den in rows else None


def rounded(value):
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return float(f"{value:.4g}") if isinstance(value, float) and math.isfinite(value) else value
