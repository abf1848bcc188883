import numpy as np
import pytest

from features.conformal import COVERAGE_GRID, ConformalOffsets, age_weights, effective_size

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
