"""The evaluation replays the test window as the service lives it: online calibration levels move only once a
delivery has happened, and bring coverage back when deliveries drift after calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.bundle import ModelBundle
from features.conformal import HIGHEST, TRACKED_COVERAGES
from tests.factories import make_shipments
from training.evaluation.online import replay, window_coverage
from training.models import TrainConfig, fit_bundle
from training.split import time_split


@pytest.fixture(scope="module")
def fitted() -> tuple[ModelBundle, pd.DataFrame]:
    split = time_split(make_shipments(4000, seed=31, days=300))
    return fit_bundle(split.train, split.calibrate, config=TrainConfig(num_boost_round=40)), split.test


def test_windows_are_the_calibrated_ones_until_the_first_delivery(fitted) -> None:
    bundle, test = fitted
    online, levels = replay(bundle, test, (0.8, 0.95), None)
    first = pd.to_datetime(test["delivered_at"], utc=True).min()
    before = (pd.to_datetime(test["created_at"], utc=True) <= first).to_numpy()
    assert before.any() and not before.all()
    for c in (0.8, 0.95):
        static = bundle.predict(test, c)
        pd.testing.assert_frame_equal(online[c][before], static[before])
        assert (online[c]["coverage"] == c).all()  # the coverage stated does not move
    assert levels.levels  # the deliveries moved the levels


def test_online_levels_restore_coverage_when_deliveries_slow_down(fitted) -> None:
    bundle, test = fitted
    slow = test.copy()
    slow["delivered_at"] = slow["created_at"] + (slow["delivered_at"] - slow["created_at"]) * 1.6
    online, _ = replay(bundle, slow, (0.8,), None)
    static = window_coverage(slow, bundle.predict(slow, 0.8))["coverage"]
    adapted = window_coverage(slow, online[0.8])["coverage"]
    assert static is not None and adapted is not None
    assert static < 0.7 and adapted > static + 0.05


def test_the_probability_of_arriving_in_time_agrees_with_the_windows_online_calibration_gives(fitted) -> None:
    bundle, test = fitted
    slow = test.copy()
    slow["delivered_at"] = slow["created_at"] + (slow["delivered_at"] - slow["created_at"]) * 1.2
    _, levels = replay(bundle, slow, (0.8,), None)
    assert max(levels.levels.values()) < HIGHEST  # at the grid's top, windows of all coverages coincide
    shipments = test.head(40)
    created = pd.to_datetime(shipments["created_at"], utc=True).reset_index(drop=True)

    def hours(stamps: pd.Series) -> np.ndarray:
        return ((stamps - created).dt.total_seconds() / 3600).to_numpy()

    for c in TRACKED_COVERAGES:
        windows = bundle.predict(shipments, c, online=levels)
        assert (windows["window_end"] > bundle.predict(shipments, c)["window_end"]).all()  # widened
        end, start = hours(windows["window_end"]), hours(windows["window_start"])
        p_end = bundle.probability_within(shipments, end, online=levels)
        np.testing.assert_allclose(p_end, (1 + c) / 2, atol=2e-3)  # the window's end is its upper quantile
        np.testing.assert_allclose(
            bundle.probability_within(shipments, start, online=levels), (1 - c) / 2, atol=2e-3
        )
        assert (bundle.probability_within(shipments, end) > p_end).all()  # what the calibration alone said
