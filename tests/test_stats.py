"""Intervals over seeds and the paired test: known answers, planted differences, no false
alarms on identical runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blgnn_es.baselines.stats import Interval, mean_interval, mean_intervals, paired_test


def test_t_interval_matches_the_textbook_numbers():
    # 1..5: mean 3, s = sqrt(2.5), t_{0.975, 4} = 2.7764451, half width 1.9632
    interval = mean_interval([1, 2, 3, 4, 5])
    assert interval.mean == 3 and interval.n == 5
    assert interval.low == pytest.approx(3 - 2.7764451 * math.sqrt(2.5 / 5), abs=1e-6)
    assert interval.high == pytest.approx(4.963243, abs=1e-6)
    # 90 %: t_{0.95, 4} = 2.1318468
    assert mean_interval([1, 2, 3, 4, 5], 0.90).high == pytest.approx(3 + 2.1318468 * 0.7071068,
                                                                       abs=1e-6)


def test_t_interval_covers_the_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    draws = rng.normal(0.7, 0.05, size=(10, 4000))
    covered = [iv.low <= 0.7 <= iv.high for iv in mean_intervals(draws)]
    assert 0.935 <= np.mean(covered) <= 0.965


def test_interval_edge_cases():
    assert mean_interval([0.5, 0.5, 0.5]) == Interval(0.5, 0.5, 0.5, 3)
    single = mean_interval([0.8])
    assert single.mean == 0.8 and math.isnan(single.low) and single.text() == "0.8000 [n/a]"
    assert mean_interval([0.9, 1.0]).text() == "0.9500 [0.3147, 1.5853]"


def test_paired_test_matches_scipy_known_answer():
    # differences 1..5: t = 3 / sqrt(0.5) = 4.2426, df 4, two-sided p = 0.013236
    a = np.array([10.0, 12, 14, 16, 18])
    result = paired_test(a, a - np.arange(1, 6))
    assert result.difference == 3 and result.verdict == "ahead"
    assert result.p_value == pytest.approx(0.0132356, abs=1e-6)
    same = mean_interval(np.arange(1, 6))
    assert (result.low, result.high) == pytest.approx((same.low, same.high))


def test_paired_test_finds_a_planted_difference_that_seed_spread_would_hide():
    rng = np.random.default_rng(1)
    seed_effect = rng.normal(0.8, 0.08, 10)  # seeds differ a lot, the learners little
    baseline = seed_effect + rng.normal(0, 0.005, 10)
    better = seed_effect + 0.03 + rng.normal(0, 0.005, 10)
    ahead = paired_test(better, baseline)
    assert ahead.verdict == "ahead" and ahead.p_value < 0.001 and ahead.low > 0
    assert paired_test(baseline, better).verdict == "behind"
    # unpaired, the two intervals overlap: pairing is what makes the difference visible
    a, b = mean_interval(better), mean_interval(baseline)
    assert a.low < b.high


def test_paired_test_does_not_flag_identical_or_exchangeable_runs():
    runs = np.array([0.91, 0.85, 0.88, 0.93, 0.80, 0.87, 0.90, 0.84, 0.86, 0.89])
    same = paired_test(runs, runs.copy())
    assert (same.verdict, same.p_value, same.difference, same.low, same.high) == (
        "level", 1.0, 0.0, 0.0, 0.0)
    # two learners drawn from one distribution: about 5 % false alarms, not more
    rng = np.random.default_rng(2)
    alarms = [paired_test(rng.normal(0.8, 0.05, 10), rng.normal(0.8, 0.05, 10)).verdict != "level"
              for _ in range(2000)]
    assert np.mean(alarms) < 0.07


def test_paired_test_without_spread_or_with_one_seed():
    constant = paired_test([0.9, 0.8, 0.7], [0.85, 0.75, 0.65])
    assert constant.verdict == "ahead" and constant.p_value == 0.0
    assert constant.low == constant.high == pytest.approx(0.05)
    one = paired_test([0.9], [0.5])
    assert one.verdict == "level" and math.isnan(one.low)
    with pytest.raises(ValueError, match="one value per seed"):
        paired_test([0.9, 0.8], [0.9])
