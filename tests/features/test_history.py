import numpy as np

from features.history import (
    GroupHistory,
    daily_counts,
    quantiles_from_hist,
    snapshot_from_daily,
    stats_from_counts,
)


def test_a_shipment_sees_only_deliveries_from_earlier_days() -> None:
    keys = np.array(["lane"] * 3)
    created = np.array([10.0, 10.0, 12.0])
    delivered = np.array([11.0, 12.0, 14.0])
    hours = np.array([24.0, 48.0, 48.0])
    gh = GroupHistory(window_days=30).fit(keys, created, delivered, hours, np.array([1.0, 0.0, np.nan]))
    hist, promised, on_time, _ = gh.counts_as_of(np.array(["lane"] * 4), np.array([11, 12, 13, 15]))
    assert list(hist.sum(axis=1)) == [0, 1, 2, 3]  # a delivery on day 12 is unknown on day 12 itself
    assert list(promised) == [0, 1, 2, 2] and list(on_time) == [0, 1, 1, 1]


def test_the_window_forgets_old_deliveries_and_unknown_groups_are_empty() -> None:
    gh = GroupHistory(window_days=5).fit(
        np.array(["a", "a"]), np.array([0.0, 20.0]), np.array([1.0, 21.0]), np.array([24.0, 24.0]), np.ones(2)
    )
    hist, *_ = gh.counts_as_of(np.array(["a", "a", "b"]), np.array([3, 10, 30]))
    assert list(hist.sum(axis=1)) == [1, 0, 0]


def test_histogram_quantiles_recover_the_median_within_a_bin() -> None:
    rng = np.random.default_rng(0)
    hours = rng.lognormal(np.log(50), 0.5, 20_000)
    daily = daily_counts(
        np.zeros(len(hours)).astype(str),
        np.zeros(len(hours)),
        np.ones(len(hours)),
        hours,
        np.ones(len(hours)),
    )
    snap = snapshot_from_daily(daily, as_of_day=5, window_days=1000)
    p10, p50, p90 = quantiles_from_hist(snap.hist, (0.1, 0.5, 0.9))[0]
    assert np.allclose([p10, p50, p90], np.quantile(hours, [0.1, 0.5, 0.9]), rtol=0.05)
    stats = stats_from_counts(snap.hist, snap.promised, snap.on_time, snap.volume)
    assert stats["n"][0] == len(hours) and stats["on_time_rate"][0] == 1.0


def test_the_history_on_a_day_from_daily_counts_is_what_the_day_by_day_history_counts() -> None:
    """Later shipments' history (from the bundle's daily counts) and training's (cumulative, day by day)
    count the same outcomes for the same day."""
    rng = np.random.default_rng(4)
    n = 3000
    keys = rng.choice(["a", "b", "c"], n).astype(object)
    created = rng.integers(0, 120, n).astype(float)
    hours = rng.lognormal(np.log(60), 0.6, n)
    hours[rng.random(n) < 0.1] = np.nan  # in flight
    delivered = created + np.floor(hours / 24)
    on_time = np.where(rng.random(n) < 0.3, np.nan, (rng.random(n) < 0.8).astype(float))
    daily = daily_counts(keys, created, delivered, hours, on_time)
    history = GroupHistory(window_days=30).from_daily(daily)
    last = int(np.nanmax(delivered))  # the day-by-day history ends there (training never asks later)
    for day in (0, 10, 45, 119, last, last + 1):
        snap = snapshot_from_daily(daily, day, window_days=30)
        asked = np.array(["a", "b", "c", "never seen"], dtype=object)
        rows = np.array([snap.keys.get(k, -1) for k in asked])
        expected = history.counts_as_of(asked, np.full(len(asked), day))
        got = [np.where(rows[:, None] >= 0, snap.hist[rows], 0)] + [
            np.where(rows >= 0, a[rows], 0) for a in (snap.promised, snap.on_time, snap.volume)
        ]
        for e, g in zip(expected, got, strict=True):
            np.testing.assert_array_equal(g, e)
