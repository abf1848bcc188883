"""The alerts benchmark's scoring: late shipments alerted before their promise, lead hours, false alarms."""

from __future__ import annotations

import pandas as pd

from benchmarks.alerts import outcomes, render

T0 = pd.Timestamp("2024-11-20T08:00:00Z")


def hours(h: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=h)


def test_late_shipments_count_as_alerted_only_when_the_alert_came_before_the_promise() -> None:
    chosen = pd.DataFrame(
        {
            "shipment_id": ["late-early", "late-after", "late-never", "on-time-alerted", "on-time"],
            "promised_at": [hours(72)] * 5,
            "delivered_at": [hours(90), hours(100), hours(80), hours(60), hours(50)],
        }
    )
    alerts = pd.DataFrame(
        {
            "shipment_id": ["late-early", "late-early", "late-after", "on-time-alerted"],
            "level": [1, 2, 1, 1],
            "raised_at": [hours(24), hours(40), hours(75), hours(30)],
            "conditions": ["risk", "risk,slip", "risk", "exception"],
        }
    )
    out = outcomes(chosen, alerts)
    assert (out["delivered"], out["late"]) == (5, 3)
    first = out["any_level"]
    assert first["late_alerted_before_promise"] == round(1 / 3, 3) and first["lead_hours_median"] == 48.0
    assert first["on_time_alerted"] == 0.5 and first["alerted_that_were_late"] == round(2 / 3, 3)
    assert out["likely_or_late"]["lead_hours_median"] == 32.0
    assert first["on_time_first_alert_conditions"] == {"exception": 1}


def test_the_figures_render_as_tables() -> None:
    chosen = pd.DataFrame({"shipment_id": ["a"], "promised_at": [hours(10)], "delivered_at": [hours(12)]})
    alerts = pd.DataFrame(
        {"shipment_id": ["a"], "level": [2], "raised_at": [hours(4)], "conditions": ["slip"]}
    )
    throughput = {
        "sqlite": {"notifications": 10, "wall_s": 0.1, "per_s": 100.0, "batch": 100, "concurrency": 8}
    }
    replay = {
        "replayed": 1, "month": ["2024-11-12T00:00:00+00:00", "2024-12-12T00:00:00+00:00"], "scans": 5,
        "requests": 6, "replay_s": 1.0, "requests_per_s": 6.0, "trained_on": 100, **outcomes(chosen, alerts),
    }  # fmt: skip
    text = render({"throughput": throughput, "replay": replay})
    assert "| sqlite | 10 | 0.10 | 100 | 100 | 8 |" in text
    assert "| likely or late | 100.0% | 6 (6-6) | – | 100.0% |" in text
