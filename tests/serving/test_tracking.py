"""Shipment state from scan events: idempotent, order-independent, with ETA history (no HTTP here)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.bundle import ModelBundle
from serving.db.tables import EtaHistory
from serving.tracking import EventBatch, ShipmentIn, events_of, ingest, parse_events, reasons, register
from tests.factories import make_shipments
from training.models import TrainConfig, fit_bundle
from training.split import time_split

T0 = dt.datetime(2024, 11, 1, 9, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    split = time_split(make_shipments(4000, seed=21, days=300))
    return fit_bundle(split.train, split.calibrate, config=TrainConfig(num_boost_round=40))


def shipment(**overrides: object) -> ShipmentIn:
    body = {
        "shipment_id": "s1", "carrier": "mid", "service": "standard",
        "origin": {"country": "DE", "region": "BE"}, "destination": {"country": "FR", "region": "A"},
        "created_at": T0.isoformat(), "promised_at": (T0 + dt.timedelta(hours=72)).isoformat(),
    }  # fmt: skip
    return ShipmentIn.model_validate({**body, **overrides})


def event(i: int, status: str, hours: float) -> dict:
    return {
        "event_id": f"e{i}",
        "occurred_at": (T0 + dt.timedelta(hours=hours)).isoformat(),
        "status": status,
    }


SCANS = [event(1, "picked_up", 3), event(2, "in_transit", 10), event(3, "arrived_at_facility", 20)]


def test_registering_keeps_the_promise_and_records_a_first_eta(session, bundle) -> None:
    s = register(session, shipment(), bundle, T0)
    assert s.promised_at == T0 + dt.timedelta(hours=72) and s.eta_p50 is not None
    assert s.prediction_source == "model" and 0 <= s.p_late <= 1
    assert [h.trigger for h in session.query(EtaHistory)] == ["registered"]


def test_events_in_any_order_give_the_same_state_and_repeats_are_no_ops(session, bundle, tmp_path) -> None:
    s = register(session, shipment(), bundle, T0)
    now = T0 + dt.timedelta(hours=21)
    good, _ = parse_events(EventBatch(events=list(reversed(SCANS))))
    assert ingest(session, s, good, bundle, now) == (3, 0)
    state = (s.status, s.last_event_at, s.eta_p50, s.window_end)
    assert ingest(session, s, good, bundle, now) == (0, 3)
    assert (s.status, s.last_event_at, s.eta_p50, s.window_end) == state
    assert s.status == "arrived_at_facility" and [e.event_id for e in events_of(session, "s1")] == [
        "e1",
        "e2",
        "e3",
    ]


def test_a_bad_event_is_rejected_with_reasons_and_the_rest_accepted() -> None:
    bad_one = {"event_id": "x", "occurred_at": "yesterday", "status": "teleported"}
    naive = {**SCANS[1], "occurred_at": "2024-11-01T10:00:00"}
    batch = EventBatch(events=[SCANS[0], bad_one, naive])
    good, bad = parse_events(batch)
    assert [e.event_id for e in good] == ["e1"]
    assert [r.index for r in bad] == [1, 2]
    assert any("status" in msg for msg in bad[0].errors) and any(
        "occurred_at" in msg for msg in bad[0].errors
    )
    assert bad[1].errors == ["occurred_at: Value error, needs a time zone (e.g. 2026-11-22T10:00:00Z)"]


def test_delivery_fixes_the_eta_and_the_outcome(session, bundle) -> None:
    s = register(session, shipment(), bundle, T0)
    good, _ = parse_events(EventBatch(events=[*SCANS, event(4, "delivered", 80)]))
    ingest(session, s, good, bundle, T0 + dt.timedelta(hours=81))
    assert s.delivered_at == T0 + dt.timedelta(hours=80) and s.eta_p50 == s.delivered_at
    assert s.p_late == 1.0 and not s.stalled


def test_a_long_silence_marks_the_shipment_stalled_with_a_reason(session, bundle) -> None:
    bundle.stall_hours = {"picked_up": 12.0, "*": 24.0}
    s = register(session, shipment(), bundle, T0)
    good, _ = parse_events(EventBatch(events=[SCANS[0]]))
    ingest(session, s, good, bundle, T0 + dt.timedelta(hours=40))
    assert s.stalled and "no scan for longer than usual" in reasons(s, events_of(session, "s1"))


def test_customs_holds_and_exceptions_are_reasons(session, bundle) -> None:
    s = register(session, shipment(), bundle, T0)
    good, _ = parse_events(EventBatch(events=[event(5, "customs_hold", 5), event(6, "exception", 6)]))
    ingest(session, s, good, bundle, T0 + dt.timedelta(hours=7))
    assert {"held at customs", "the carrier reported an exception"} <= set(
        reasons(s, events_of(session, "s1"))
    )


def test_without_a_model_the_shipment_is_stored_without_an_eta(session) -> None:
    s = register(session, shipment(), None, T0)
    assert s.eta_p50 is None and pd.isna(s.p_late)
