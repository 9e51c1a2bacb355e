"""Intervals over seeds and paired comparisons of two learners on the same draws (issue 15).

Seeds are the unit of replication: seed r of a task fixes its task draw, initial synapses,
batches and test examples, for BLUR and every baseline alike.

- Interval of a mean over seeds: Student's t interval, mean ± t_{(1+c)/2, n−1} · s/√n with
  s the sample standard deviation (ddof 1); ``scipy.stats.t`` and ``scipy.stats.sem``.
- Paired comparison: because seed r is the same draw for both learners, the comparison is
  on the per-seed differences d_r = a_r − b_r: the two-sided paired t-test
  (``scipy.stats.ttest_rel``) and the t interval of the mean difference (its
  ``confidence_interval``). The verdict is "ahead" when that interval lies above 0,
  "behind" when it lies below, else "level" — the same as p < 1 − c with the sign of the
  mean difference (Student 1908; any statistics text, e.g. Wasserman, *All of Statistics*,
  §10.2).

scipy answers nan where the differences have no spread; those cases are decided here:
all differences 0 (identical runs) is level with p = 1; a constant non-zero difference is a
zero-width interval and p = 0; a single seed has no interval (nan) and is level.

>>> interval = mean_interval([0.8, 0.9, 1.0])
>>> round(interval.mean, 3), round(interval.low, 3), round(interval.high, 3)
(0.9, 0.652, 1.148)
>>> paired_test([0.9, 0.8, 0.7], [0.9, 0.8, 0.7]).verdict
'level'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
INTERVAL_METHOD = "95% Student t interval of the mean over seeds (scipy.stats.t)"
PAIRED_METHOD = ("paired over seeds (same task draw, initial synapses, batches and test "
                 "examples): two-sided paired t-test (scipy.stats.ttest_rel) and the 95% t "
                 "interval of the mean difference; ahead / behind when the interval excludes 0, "
                 "else level")
VERDICTS = ("ahead", "behind", "level")
SPREAD_TOLERANCE = 1e-12
"""Differences that vary by less than this have no spread (accuracies are multiples of 1/N;
subtracting them leaves rounding noise of about 1e-16)."""


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` seeds and its confidence interval (nan bounds for one seed)."""

    mean: float
    low: float
    high: float
    n: int

    def text(self, digits: int = 4) -> str:
        """``0.9050 [0.8912, 0.9188]``."""
        if math.isnan(self.low):
            return f"{self.mean:.{digits}f} [n/a]"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def mean_interval(values, confidence: float = CONFIDENCE) -> Interval:
    """The t interval of the mean of ``values`` (one per seed)."""
    (interval,) = mean_intervals(np.asarray(values, dtype=np.float64)[:, None], confidence)
    return interval


def mean_intervals(table, confidence: float = CONFIDENCE) -> list[Interval]:
    """The t interval of each column of a (seeds, columns) table."""
    table = np.asarray(table, dtype=np.float64)
    n = table.shape[0]
    means = table.mean(axis=0)
    if n < 2:
        return [Interval(float(m), math.nan, math.nan, n) for m in means]
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * stats.sem(table, axis=0)
    return [Interval(float(m), float(m - h), float(m + h), n)
            for m, h in zip(means, half, strict=True)]


@dataclass(frozen=True)
class Paired:
    """``a`` against ``b`` over the same seeds: mean difference a − b, its interval, the
    paired t-test's p-value and the verdict for ``a`` (ahead / behind / level)."""

    difference: float
    low: float
    high: float
    p_value: float
    verdict: str
    n: int

    def text(self, digits: int = 3) -> str:
        """``+0.031 [+0.010, +0.052]``."""
        if math.isnan(self.low):
            return f"{self.difference:+.{digits}f} [n/a]"
        return (f"{self.difference:+.{digits}f} "
                f"[{self.low:+.{digits}f}, {self.high:+.{digits}f}]")


def paired_test(a, b, confidence: float = CONFIDENCE) -> Paired:
    """Paired t-test of ``a`` against ``b`` (equal-length, entry r of each from seed r)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples need one value per seed each, got {a.shape}, {b.shape}")
    differences = a - b
    n, mean = len(differences), float(differences.mean())
    if n < 2:
        return Paired(mean, math.nan, math.nan, 1.0, "level", n)
    if np.ptp(differences) <= SPREAD_TOLERANCE:  # no spread: scipy's t is 0/0 or d/0
        mean = float(np.median(differences))
        p_value = 1.0 if abs(mean) <= SPREAD_TOLERANCE else 0.0
        mean = 0.0 if p_value == 1.0 else mean
        return Paired(mean, mean, mean, p_value, _verdict(mean, mean), n)
    result = stats.ttest_rel(a, b)
    interval = result.confidence_interval(confidence)
    low, high = float(interval.low), float(interval.high)
    return Paired(mean, low, high, float(result.pvalue), _verdict(low, high), n)


def _verdict(low: float, high: float) -> str:
    if low > 0:
        return "ahead"
    if high < 0:
        return "behind"
    return "level"
