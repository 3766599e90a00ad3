"""Confidence intervals for the mean of paired differences, valid at the seed counts people use.

A layer-dropping table pairs each row with the full model seed by seed, so the quantity is the mean
of n paired differences, with n the number of seeds: 3 to 5 in most studies. At that n a
percentile bootstrap is not a 95% interval: with 3 seeds it has 27 equally likely resamples and
returns exactly [smallest, largest] difference, which covers a normal mean about 75% of the time.
The Student-t interval, mean ± t_{(1+level)/2, n-1} · s / √n, has its stated coverage at any n ≥ 2
when the differences are roughly normal (Student 1908; any statistics text), so it is the default
below `BOOTSTRAP_MIN_N`; the percentile bootstrap (Efron & Tibshirani 1993) takes over where n is
large enough for resampling to describe the distribution. With n < 2 there is no interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BOOTSTRAP_MIN_N = 10
BOOTSTRAP_RESAMPLES = 10_000
T_METHOD = "student-t"
BOOTSTRAP_METHOD = "bootstrap"
NO_INTERVAL = "none (n < 2)"


@dataclass(frozen=True)
class Interval:
    """The mean of paired differences and its interval (NaN bounds when there is none)."""

    mean: float
    low: float
    high: float
    n: int
    method: str
    level: float

    @property
    def excludes_zero(self) -> bool:
        return not math.isnan(self.low) and (self.low > 0 or self.high < 0)


def percent(level: float) -> str:
    """0.95 -> "95%", 0.975 -> "97.5%", 0.999 -> "99.9%" (never rounded to a level not asked for)."""
    return f"{100 * level:g}%"


def method_for(n: int) -> str:
    """The interval method used for `n` paired differences."""
    if n < 2:
        return NO_INTERVAL
    return BOOTSTRAP_METHOD if n >= BOOTSTRAP_MIN_N else T_METHOD


def paired_interval(diffs: list[float], level: float = 0.95, seed: int = 0) -> Interval:
    """The mean of `diffs` and a `level` interval for it, by `method_for(len(diffs))`."""
    import numpy as np

    values = np.asarray([d for d in diffs if math.isfinite(d)], dtype=float)  # an undefined metric has no difference
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    method = method_for(n)
    if method == NO_INTERVAL:
        return Interval(mean, math.nan, math.nan, n, method, level)
    if method == T_METHOD:
        from scipy.stats import t

        half = float(t.ppf((1 + level) / 2, n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
        return Interval(mean, mean - half, mean + half, n, method, level)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))].mean(axis=1)
    low, high = np.percentile(means, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return Interval(mean, float(low), float(high), n, method, level)


def describe(methods: set[str], level: float) -> str:
    """One sentence naming how this table's intervals were computed."""
    named = []
    if T_METHOD in methods:
        named.append(f"Student-t on the paired differences (n − 1 degrees of freedom) where n < {BOOTSTRAP_MIN_N}")
    if BOOTSTRAP_METHOD in methods:
        named.append(f"percentile bootstrap over seeds ({BOOTSTRAP_RESAMPLES:,} resamples) where n ≥ {BOOTSTRAP_MIN_N}")
    text = f"{percent(level)} intervals: " + ("; ".join(named) if named else "none")
    if NO_INTERVAL in methods:
        text += "; rows with one paired seed have no interval"
    return text
