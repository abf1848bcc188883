"""Scorecards: on-time rate, MAE and window coverage per carrier, lane and week; live reliability."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.scorecards import judged, reliability, scorecard, weekly

T = pd.Timestamp("2026-11-02 12:00", tz="UTC")  # a Monday


def outcome(
    carrier: str, lane: str, delivered_h: float, promised_h: float | None, p_late: float = 0.2
) -> dict:
    origin, destination = lane.split("-")
    return {
        "shipment_id": f"{carrier}{delivered_h}", "carrier": carrier, "service": "ground",
        "origin_country": origin, "destination_country": destination,
        "promised_at": None if promised_h is None else T + pd.Timedelta(hours=promised_h),
        "delivered_at": T + pd.Timedelta(hours=delivered_h), "eta_p50": T + pd.Timedelta(hours=48),
        "window_start": T + pd.Timedelta(hours=40), "window_end": T + pd.Timedelta(hours=60),
        "p_late": p_late,
    }  # fmt: skip


@pytest.fixture
def outcomes() -> pd.DataFrame:
    rows = [
        outcome("a", "DE-FR", 50, 72),  # on time, 2 h error, in window
        outcome("a", "DE-FR", 70, 60, p_late=0.9),  # late, 22 h, outside
        outcome("b", "DE-DE", 44, None),  # no promise: no on-time verdict
        outcome("b", "DE-DE", 48 + 24 * 7, 72),  # next week, late
    ]
    frame = pd.DataFrame(rows)
    frame["promised_at"] = pd.to_datetime(frame["promised_at"], utc=True)
    return judged(frame)


def test_a_carrier_scorecard_counts_on_time_error_and_coverage(outcomes: pd.DataFrame) -> None:
    a, b = sorted(scorecard(outcomes, "carrier"), key=lambda r: r["carrier"])
    assert a == {"carrier": "a", "n": 2, "on_time_rate": 0.5, "mae_hours": 12.0, "coverage": 0.5}
    assert b["on_time_rate"] == 0.0 and b["n"] == 2  # the shipment without a promise is left out of the rate


def test_lanes_are_origin_dash_destination(outcomes: pd.DataFrame) -> None:
    assert {r["lane"] for r in scorecard(outcomes, "lane")} == {"DE-FR", "DE-DE"}


def test_weeks_start_on_monday_and_split_the_deliveries(outcomes: pd.DataFrame) -> None:
    series = weekly(outcomes, "carrier")
    assert [w["week"] for w in series["b"]] == ["2026-11-02", "2026-11-09"]
    assert [w["n"] for w in series["a"]] == [2]


def test_reliability_bins_the_first_predicted_risk_against_the_outcome(outcomes: pd.DataFrame) -> None:
    curve = reliability(outcomes)
    assert [(b["bin_lower"], b["count"], b["observed_rate"]) for b in curve] == [(0.2, 2, 0.5), (0.9, 1, 1.0)]
