import numpy as np
import pytest

from features.conformal import (
    COVERAGE_GRID,
    AdaptiveCoverage,
    ConformalOffsets,
    _offset_at,
    age_weights,
    effective_size,
)

AT_80 = int(np.searchsorted(COVERAGE_GRID, 0.8))


def drifting_scores(
    n_days: int, seed: int, regime_days: float, per_day: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """`per_day` scores a day whose spread jumps to a new level every `regime_days` (never when infinite)."""
    days = np.repeat(np.arange(n_days, dtype=float), per_day)
    n = len(days)
    rng = np.random.default_rng(seed)
    regime = np.zeros(n, dtype=int) if np.isinf(regime_days) else (days // regime_days).astype(int)
    spread = np.exp(rng.normal(scale=0.7, size=regime.max() + 1))[regime]
    return np.abs(rng.normal(size=n)) * spread, days


def test_equal_weights_give_the_plain_split_conformal_rank() -> None:
    scores = np.random.default_rng(0).normal(size=1000)
    ranks = np.ceil(1001 * COVERAGE_GRID).astype(int) - 1
    assert np.array_equal(ConformalOffsets.grid(scores), np.sort(scores)[ranks])
    assert np.array_equal(ConformalOffsets.grid(scores, np.full(1000, 3.0)), np.sort(scores)[ranks])


def test_a_weight_halves_with_every_half_life_of_age() -> None:
    w = age_weights(np.array([100.0, 90.0, 80.0, np.nan]), half_life_days=10)
    assert w == pytest.approx([1.0, 0.5, 0.25, 1.0])
    assert age_weights(np.array([1.0, 50.0]), float("inf")) == pytest.approx([1.0, 1.0])
    assert effective_size(np.ones(40)) == pytest.approx(40) and effective_size(w[:3]) < 3


def test_weighted_conformal_keeps_nominal_coverage_after_a_shift_where_the_plain_one_misses_it() -> None:
    plain, weighted = [], []
    for seed in range(30):
        scores, days = drifting_scores(440, seed, regime_days=340, per_day=5)  # shifts 60 days before the end
        cal, future = scores[days < 400], scores[days >= 400]  # the 40 days after the calibration window
        plain.append(np.mean(future <= ConformalOffsets.grid(cal)[AT_80]))
        w = age_weights(days[days < 400], half_life_days=15)
        weighted.append(np.mean(future <= ConformalOffsets.grid(cal, w)[AT_80]))
    assert np.mean(np.abs(np.array(plain) - 0.8)) > 0.08
    assert np.mean(np.abs(np.array(weighted) - 0.8)) < 0.04
    assert np.mean(weighted) == pytest.approx(0.8, abs=0.03)


def test_segments_need_enough_effective_rows_for_their_own_offsets() -> None:
    scores = np.random.default_rng(2).normal(size=600)
    keys = np.array(["a"] * 300 + ["b"] * 300, dtype=object)
    w = np.where(keys == "a", 1.0, 1e-3)
    w[-1] = 1.0  # "b" has 300 rows but almost all the weight sits on one of them
    fitted = ConformalOffsets.fit(scores, {"segment": keys}, w)
    assert set(fitted.by_level["segment"]) == {"a"}


def online_coverage(calibration: np.ndarray, stream: np.ndarray, nominal: float = 0.8) -> float:
    """Coverage over a stream of scores when each window is read at the online level, which every score
    then moves (feedback at once)."""
    offsets = ConformalOffsets.fit(calibration, {})
    online, inside = AdaptiveCoverage(), []
    for score in stream:
        level = online.effective(np.array(["overall"]), nominal)
        inside.append(score <= ConformalOffsets.at(offsets.table()[:1], level)[0])
        online.observe("overall", float(score), offsets.overall)
    return float(np.mean(inside))


def test_online_levels_bring_coverage_back_to_nominal_after_a_shift() -> None:
    rng = np.random.default_rng(5)
    calibration = np.abs(rng.normal(size=2000))
    grid = ConformalOffsets.fit(calibration, {}).overall
    for spread, nominal in ((1.6, 0.8), (0.6, 0.8), (1.3, 0.9)):  # reachable below the grid's 99%
        stream = np.abs(rng.normal(size=6000)) * spread  # wider (or narrower) errors than calibrated
        static = np.mean(stream <= grid[int(np.searchsorted(COVERAGE_GRID, nominal))])
        assert abs(static - nominal) > 0.1
        assert online_coverage(calibration, stream, nominal) == pytest.approx(nominal, abs=0.02)


def test_online_levels_stay_near_nominal_on_exchangeable_scores_and_within_the_grid() -> None:
    rng = np.random.default_rng(6)
    assert online_coverage(np.abs(rng.normal(size=2000)), np.abs(rng.normal(size=6000))) == pytest.approx(
        0.8, abs=0.02
    )
    offsets = ConformalOffsets.fit(np.arange(500.0), {})
    online = AdaptiveCoverage()
    for _ in range(3000):
        online.observe("overall", 1e9, offsets.overall)  # every delivery outside any window
    assert online.level("overall", 0.8) == COVERAGE_GRID[-1]
    assert online.effective(np.array(["overall", "never seen"]), 0.85).tolist() == [COVERAGE_GRID[-1], 0.85]


def test_segment_rows_have_stable_names_and_their_own_grids() -> None:
    scores = np.random.default_rng(7).normal(size=900)
    keys = np.array(["a"] * 600 + ["b"] * 300, dtype=object)
    fitted = ConformalOffsets.fit(scores, {"segment": keys, "carrier": np.array(["c"] * 900, dtype=object)})
    rows = fitted.rows({"segment": np.array(["b", "z"]), "carrier": np.array(["c", "y"])}, 2)
    assert fitted.row_names(rows).tolist() == ["segment=b", "overall"]
    np.testing.assert_array_equal(fitted.grid_named("segment=b"), ConformalOffsets.grid(scores[600:]))
    # every row went to a segment: no carrier offsets, and the overall ones (for segments never seen) use all
    assert "carrier" not in fitted.counts and fitted.by_level["carrier"] == {}
    np.testing.assert_array_equal(fitted.overall, ConformalOffsets.grid(scores))


def test_each_row_of_offsets_is_fitted_on_the_rows_that_read_it_and_covers_them() -> None:
    """Mondrian: a carrier's offsets serve the rows of its segments too small for their own, so they are
    fitted on those rows alone; fitted on all the carrier's rows, they would miss the small segments' wider
    errors (here half as wide again) and cover them far below nominal."""
    rng = np.random.default_rng(11)
    big, small = np.abs(rng.normal(size=3000)), np.abs(rng.normal(size=900)) * 1.5
    scores = np.concatenate([big, small])
    fine = np.array(["c/big"] * 3000 + [f"c/small{i % 6}" for i in range(900)], dtype=object)  # 150 each
    segments = {"segment": fine, "carrier": np.array(["c"] * 3900, dtype=object)}
    fitted = ConformalOffsets.fit(scores, segments)
    assert fitted.counts == {"segment=c/big": 3000, "carrier=c": 900, "overall": 3900}
    rows = fitted.rows(segments, len(scores))
    assert set(fitted.row_names(rows[3000:])) == {"carrier=c"}
    offsets = ConformalOffsets.at(fitted.table()[rows], np.full(len(scores), 0.8))
    covered = scores <= offsets
    assert covered[:3000].mean() == pytest.approx(0.8, abs=0.01)
    assert covered[3000:].mean() == pytest.approx(0.8, abs=0.01)
    pooled = ConformalOffsets.grid(scores)[AT_80]  # what the carrier's rows used to be read at
    assert np.mean(small <= pooled) < 0.7


def test_the_scalar_offset_a_delivery_is_judged_by_equals_the_windows_offset() -> None:
    grid = np.sort(np.random.default_rng(8).normal(size=len(COVERAGE_GRID))).cumsum()
    for c in [0.3, 0.5, 0.57, 0.8, 0.955, 0.99, 1.2, *np.random.default_rng(9).uniform(0.5, 0.99, 200)]:
        assert _offset_at(grid, float(c)) == pytest.approx(
            ConformalOffsets.at(grid[None, :], np.array([c]))[0]
        )


def test_windows_stay_nested_whatever_the_tracked_levels_moved() -> None:
    online = AdaptiveCoverage(
        levels={("s", 0.8): 0.93, ("s", 0.9): 0.91, ("s", 0.95): 0.97, ("t", 0.8): 0.70, ("t", 0.9): 0.86}
    )
    for row in ("s", "t", "never seen"):
        read = online.read_grid(row)
        assert (np.diff(read) >= 0).all()  # a higher stated coverage is never read lower
        assert read.min() >= COVERAGE_GRID[0] and read.max() <= COVERAGE_GRID[-1]
    # the tracked coverages are read at their own levels unless a lower one moved further
    assert [online.effective_one("s", c) for c in (0.8, 0.9, 0.95)] == pytest.approx([0.93, 0.93, 0.97])
    assert [online.effective_one("t", c) for c in (0.8, 0.9, 0.95)] == pytest.approx([0.70, 0.86, 0.95])
    # between and beyond them: the interpolated move (0.85 in t: 0.85 - 0.07), else the nearest one's
    assert online.effective_one("t", 0.85) == pytest.approx(0.78)
    assert online.effective_one("t", 0.6) == pytest.approx(0.5)  # 0.6 - 0.1 on the grid's floor
    assert online.effective_one("never seen", 0.85) == pytest.approx(0.85)


def test_one_coverage_is_read_as_the_array_of_coverages_is() -> None:
    rng = np.random.default_rng(10)
    for _ in range(50):
        levels = {("r", c): float(np.clip(c + rng.normal(scale=0.1), 0.5, 0.99)) for c in (0.8, 0.9, 0.95)}
        online = AdaptiveCoverage(levels)
        nominal = np.concatenate([COVERAGE_GRID, rng.uniform(0.3, 1.0, 20)])
        one_by_one = [online.effective_one("r", float(c)) for c in nominal]
        np.testing.assert_allclose(one_by_one, online.read_at("r", nominal))


def test_a_carriers_segments_share_one_online_level_learned_from_all_its_deliveries() -> None:
    rng = np.random.default_rng(12)
    scores = rng.normal(size=1200)
    fine = np.array(["c/a"] * 500 + ["c/b"] * 500 + ["d/a"] * 200, dtype=object)
    carrier = np.array(["c"] * 1000 + ["d"] * 200, dtype=object)
    fitted = ConformalOffsets.fit(scores, {"segment": fine, "carrier": carrier})
    asked = {"segment": np.array(["c/a", "c/b", "c/new", "e/a"]), "carrier": np.array(["c", "c", "c", "e"])}
    assert fitted.row_names(fitted.rows(asked, 4)).tolist() == [
        "segment=c/a",
        "segment=c/b",
        "overall",
        "overall",
    ]
    assert fitted.pools(asked, 4).tolist() == ["carrier=c", "carrier=c", "overall", "overall"]
    online = AdaptiveCoverage()
    for _ in range(200):  # late deliveries in segment c/a only
        online.observe("carrier=c", 1e9, fitted.grid_named("segment=c/a"))
    both = {"segment": np.array(["c/a", "c/b"]), "carrier": np.array(["c", "c"])}
    moved, calibrated = fitted.grids(both, 2, online), fitted.grids(both, 2)
    assert (moved[:, AT_80] > calibrated[:, AT_80]).all()  # c/b's windows widen too
    np.testing.assert_array_equal(moved[1], ConformalOffsets.at(
        np.repeat(fitted.grid_named("segment=c/b")[None], len(COVERAGE_GRID), axis=0),
        online.read_grid("carrier=c"),
    ))  # fmt: skip
