"""The fast forms of the bootstrap's statistics give what the plain definitions give.

Each fast path (one product for a filtered subset, a window around a percentile's rank,
AUC work on the classes' overlap alone) is compared with a direct computation on the
same resample counts, including the cases that force its fallbacks.
"""

from __future__ import annotations

import numpy as np
import pytest

from modeldesk.validate import weighted
from modeldesk.validate.counts import Counts
from modeldesk.validate.metrics import _auc
from modeldesk.validate.stats import SharedResamples
from modeldesk.validate.weighted import (
    LinearStatistic,
    WeightedPercentile,
    evaluate_counts,
    paired,
    running_sums,
)


def _shared(rows: int, resamples: int = 300, seed: int = 11) -> Counts:
    counts = SharedResamples(resamples, seed, rows).counts()
    assert counts is not None
    return counts


def test_running_sums_equal_cumsum_bit_for_bit():
    rng = np.random.default_rng(4)
    counts = rng.poisson(1, (569, 2000)).astype(np.float32) * np.float32(0.37)
    assert np.array_equal(running_sums(counts.copy()), np.cumsum(counts, axis=0))
    narrow = counts[:, :1].astype(np.float64)  # a point estimate's one column of ones
    assert np.array_equal(running_sums(narrow.copy()), np.cumsum(narrow, axis=0))


def test_every_resample_draws_as_many_rows_as_there_are():
    shared = _shared(250)  # what a count of all rows, taken as known, relies on
    by_row = shared.by_row
    assert np.array_equal(by_row.sum(axis=0), np.full(by_row.shape[1], 250.0))


@pytest.mark.parametrize("size", [0, 1, 50, 120, 200, 299, 300])  # gathered, complemented
def test_totals_over_rows_equal_the_plain_sums_and_are_computed_once(size):
    shared = _shared(300)
    assert shared.small is not None and shared.drawn == 300
    rows = np.sort(np.random.default_rng(size).choice(300, size, replace=False))
    expected = shared.by_row[rows].astype(np.float64).sum(axis=0)
    found = shared.total(rows)
    assert found.dtype == np.float32 and np.array_equal(found, expected)
    assert shared.total(rows.copy()) is found and not found.flags.writeable
    # Without the one-byte copy or the known totals: the float sums, the same numbers.
    plain = Counts(np.array(shared.by_row))
    assert np.array_equal(plain.total(rows), expected)
    assert np.array_equal(plain.every(None), np.full(300, 300.0)) and shared.every(None) == 300


def test_counts_too_large_for_one_byte_are_summed_as_floats():
    by_row = np.ones((4, 3), dtype=np.float32)
    by_row[0] = 300  # a row drawn 300 times in each resample
    counts = Counts(by_row, drawn=303, small=None)
    assert counts.total(np.array([0, 2, 3])).tolist() == [302.0] * 3


def test_each_run_remembers_its_own_totals():
    first, second = SharedResamples(300, 11, 300), SharedResamples(300, 11, 300)
    assert first.counts() is first.counts()  # one run's checks share one Counts ...
    assert first.counts() is not second.counts()  # ... and another run starts afresh
    assert first.counts().by_row is second.counts().by_row  # on the same drawn counts


@pytest.mark.parametrize("subset_size", [None, 40, 200])  # all rows, a few, most
def test_indicator_sums_read_few_rows_and_equal_the_full_product(subset_size):
    rng = np.random.default_rng(subset_size or 1)
    shared = _shared(300)
    by_row = shared.by_row
    rows = 300 if subset_size is None else subset_size
    quantities = np.column_stack([
        rng.random(rows) < 0.05,  # few ones: their rows are read
        rng.random(rows) < 0.95,  # few zeros: all rows less theirs
        rng.random(rows) < 0.5,  # as many of each
        np.ones(rows),  # a count of rows
        rng.normal(size=rows),  # not an indicator: a product
    ]).astype(np.float64)  # fmt: skip
    statistic = LinearStatistic(quantities, lambda sums: sums)
    assert sorted(statistic.indicators) == [0, 1, 2, 3] and statistic.general == [4]
    row_ids = None if subset_size is None else np.sort(rng.choice(300, rows, replace=False))
    counts = by_row if row_ids is None else by_row[row_ids]
    expected = counts.T.astype(np.float64) @ quantities
    found = statistic.of_counts(shared, row_ids)  # float32 sums: cancellation near zero
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-3)
    assert np.array_equal(statistic.of_counts(shared, row_ids)[:, :4], expected[:, :4])


def test_a_linear_statistic_of_a_subset_equals_the_gathered_rows():
    rng = np.random.default_rng(2)
    shared = _shared(400)
    by_row = shared.by_row
    values = rng.random(400)
    subset = np.sort(rng.choice(400, 90, replace=False))
    mean = LinearStatistic.mean(values[subset])
    gathered = by_row[subset].T.astype(np.float64)
    expected = (gathered @ values[subset]) / gathered.sum(axis=1)
    np.testing.assert_allclose(mean.of_counts(shared, subset), expected, rtol=1e-5)
    everything = LinearStatistic.mean(values)
    full = by_row.T.astype(np.float64)
    np.testing.assert_allclose(
        everything.of_counts(shared, None), (full @ values) / full.sum(axis=1), rtol=1e-5
    )
    assert mean(np.ones((1, 90)))[0] == pytest.approx(values[subset].mean())


def test_a_paired_difference_of_linear_statistics_is_one_product_and_the_difference():
    rng = np.random.default_rng(3)
    shared = _shared(300)
    a, b = rng.random(300) < 0.9, rng.random(300) < 0.8
    new, old = LinearStatistic.mean(a), LinearStatistic.mean(b)
    fused = paired(new, old, -1.0)
    assert isinstance(fused, LinearStatistic) and fused.quantities.shape == (300, 4)
    separate = -(new.of_counts(shared, None) - old.of_counts(shared, None))
    np.testing.assert_array_equal(fused.of_counts(shared, None), separate)
    auc = _auc(rng.random(300), a)
    mixed = paired(new, auc, 1.0)  # not both linear: each part evaluated its own way
    assert not isinstance(mixed, LinearStatistic)
    np.testing.assert_array_equal(
        evaluate_counts(mixed, shared, None),
        new.of_counts(shared, None) - auc.of_counts(shared, None),
    )


def _brute_auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~positive)
    beats = (scores[pos][:, None] > scores[neg][None, :]) + 0.5 * (
        scores[pos][:, None] == scores[neg][None, :]
    )
    wins = np.einsum("rp,pn,rn->r", weights[:, pos], beats, weights[:, neg])
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / (weights[:, pos].sum(axis=1) * weights[:, neg].sum(axis=1))


@pytest.mark.parametrize("decimals", [None, 1])  # distinct scores, and many ties
def test_the_weighted_auc_counts_every_pair_once_and_ties_as_half(decimals):
    rng = np.random.default_rng(5)
    scores = rng.random(60) if decimals is None else np.round(rng.random(60), decimals)
    positive = rng.random(60) < 0.4
    weights = rng.poisson(1, (5, 60)).astype(np.float64)
    np.testing.assert_allclose(
        _auc(scores, positive)(weights), _brute_auc(scores, positive, weights)
    )
    assert np.isnan(_auc(scores, positive)(np.zeros((1, 60))))[0]


@pytest.mark.parametrize("separation", [0.0, 1.0, 3.0, 20.0])  # overlap from all to none
@pytest.mark.parametrize("decimals", [None, 1])
def test_the_auc_on_shared_counts_and_a_subset_matches_every_pair(separation, decimals):
    rng = np.random.default_rng(int(separation * 10) + (decimals or 0))
    positive = rng.random(300) < 0.4
    scores = rng.normal(size=300) + separation * positive
    scores = scores if decimals is None else np.round(scores, decimals)
    shared = _shared(300)
    by_row = shared.by_row
    found = _auc(scores, positive).of_counts(shared, None)
    expected = _brute_auc(scores, positive, by_row.T.astype(np.float64))
    np.testing.assert_allclose(found, expected, rtol=1e-6)
    subset = np.sort(rng.choice(300, 120, replace=False))
    part = _auc(scores[subset], positive[subset]).of_counts(shared, subset)
    expected = _brute_auc(scores[subset], positive[subset], by_row[subset].T.astype(np.float64))
    np.testing.assert_allclose(part, expected, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize(("rows", "fraction"), [(569, 0.99), (200, 0.95), (1000, 0.5)])
def test_a_windowed_percentile_equals_the_one_over_every_row(rows, fraction):
    rng = np.random.default_rng(rows)
    shared = _shared(rows, resamples=500)
    by_row = shared.by_row
    values = np.round(rng.gamma(2.0, size=rows), 1)  # ties, as latencies have
    statistic = WeightedPercentile(values, fraction)
    np.testing.assert_array_equal(statistic.of_counts(shared, None), statistic(by_row.T))
    subset = np.sort(rng.choice(rows, rows // 2, replace=False))
    part = WeightedPercentile(values[subset], fraction)
    np.testing.assert_array_equal(part.of_counts(shared, subset), part(by_row[subset].T))
    point = statistic(np.ones((1, rows)))[0]
    ordered = np.sort(values)
    assert point == ordered[min(int(np.floor(rows * fraction)), rows - 1)]


def test_resamples_outside_a_percentiles_window_are_done_over_every_row(monkeypatch):
    # A window of a few rows misses most resamples' answers: the fallback must catch
    # each of them, on both sides of the window.
    monkeypatch.setattr(weighted, "WINDOW_SIGMAS", 0)
    monkeypatch.setattr(weighted, "WINDOW_SLACK", 1)
    rng = np.random.default_rng(9)
    shared = _shared(400, resamples=500)
    by_row = shared.by_row
    statistic = WeightedPercentile(rng.random(400), 0.9)
    found = statistic.of_counts(shared, None)
    np.testing.assert_array_equal(found, statistic(by_row.T))
    place = np.searchsorted(statistic.ordered, found)
    centre = round(0.9 * 399)
    assert (place < centre - 1).any() and (place > centre + 1).any()
