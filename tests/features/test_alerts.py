"""Delay alert rules: levels, hysteresis, one alert per level and episode, resolution."""

from __future__ import annotations

import datetime as dt

import pytest

from features.alerts import (
    DEFAULT_RULES,
    AlertRules,
    AlertState,
    Condition,
    Level,
    NoticeType,
    Snapshot,
    evaluate,
)

T0 = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
PROMISE = T0 + dt.timedelta(hours=72)


def snap(hours: float = 1, **fields: object) -> Snapshot:
    base: dict = {
        "shipment_id": "s1", "at": T0 + dt.timedelta(hours=hours), "promised_at": PROMISE,
        "eta_p50": PROMISE - dt.timedelta(hours=24), "window_start": PROMISE - dt.timedelta(hours=40),
        "window_end": PROMISE - dt.timedelta(hours=10),
        "p_late": 0.1,
    }  # fmt: skip
    return Snapshot(**{**base, **fields})


def run(*snapshots: Snapshot, rules: AlertRules = DEFAULT_RULES) -> tuple[AlertState, list]:
    state, sent = AlertState(), []
    for s in snapshots:
        state, notices = evaluate(state, s, rules)
        sent += notices
    return state, sent


def types(notices: list) -> list[str]:
    return [n.type.value for n in notices]


def test_an_on_track_shipment_owes_no_notice() -> None:
    state, sent = run(snap(), snap(5))
    assert sent == [] and state.level == Level.NONE


def test_late_risk_crossing_the_threshold_raises_a_watch_alert_once() -> None:
    state, sent = run(snap(p_late=0.2), snap(2, p_late=0.6), snap(3, p_late=0.7))
    assert types(sent) == ["shipment.delay_predicted"]
    assert sent[0].level == Level.WATCH and sent[0].dedupe_key == "s1/0/level-1"
    assert sent[0].conditions == (Condition.RISK,)


def test_a_score_flapping_around_the_threshold_does_not_flap_alerts() -> None:
    flaps = [snap(h, p_late=p) for h, p in enumerate([0.55, 0.45, 0.52, 0.4, 0.6, 0.38], start=1)]
    state, sent = run(*flaps)
    assert types(sent) == ["shipment.delay_predicted"] and state.level == Level.WATCH


def test_the_risk_clears_only_below_the_lower_threshold_and_then_is_back_on_track() -> None:
    state, sent = run(snap(1, p_late=0.6), snap(2, p_late=0.36), snap(3, p_late=0.3))
    assert types(sent) == ["shipment.delay_predicted", "shipment.back_on_track"]
    assert state.episode == 1 and state.level == Level.NONE


def test_a_new_delay_after_recovery_is_a_new_episode_with_its_own_alert() -> None:
    state, sent = run(snap(1, p_late=0.6), snap(2, p_late=0.1), snap(3, p_late=0.7))
    assert [n.dedupe_key for n in sent] == ["s1/0/level-1", "s1/0/back-on-track", "s1/1/level-1"]


def test_the_most_likely_eta_slipping_past_the_promise_escalates_to_likely() -> None:
    slipped = PROMISE + dt.timedelta(hours=5)
    state, sent = run(snap(1, p_late=0.6), snap(2, p_late=0.6, eta_p50=slipped))
    delays = [(n.type, n.level) for n in sent if n.type == NoticeType.DELAY_PREDICTED]
    assert delays == [
        (NoticeType.DELAY_PREDICTED, Level.WATCH), (NoticeType.DELAY_PREDICTED, Level.LIKELY),
    ]  # fmt: skip
    likely = next(n for n in sent if n.level == Level.LIKELY)
    assert likely.new_eta == slipped and likely.promised_at == PROMISE


def test_a_window_end_past_the_promise_alone_is_no_alert() -> None:
    state, sent = run(snap(1, window_end=PROMISE + dt.timedelta(hours=20)))
    assert sent == [] and state.level == Level.NONE


def test_the_slip_clears_only_when_the_eta_lies_a_margin_before_the_promise() -> None:
    rules = AlertRules(clear_margin_hours=6)
    just_before = PROMISE - dt.timedelta(hours=2)
    state, _ = run(snap(1, eta_p50=PROMISE + dt.timedelta(hours=1)), snap(2, eta_p50=just_before))
    assert Condition.SLIP in state.conditions
    state, sent = evaluate(state, snap(3, eta_p50=PROMISE - dt.timedelta(hours=7)), rules)
    assert types(sent) == ["shipment.back_on_track"]


def test_a_jump_straight_to_late_sends_one_alert_at_the_top_level_with_old_and_new_dates() -> None:
    late_eta = PROMISE + dt.timedelta(hours=20)
    late = {"eta_p50": late_eta, "window_start": PROMISE + dt.timedelta(hours=2), "p_late": 0.95}
    state, sent = run(snap(1), snap(30, **late))
    delay = [n for n in sent if n.type == NoticeType.DELAY_PREDICTED]
    assert [n.level for n in delay] == [Level.LATE]
    assert delay[0].old_eta == PROMISE - dt.timedelta(hours=24) and delay[0].new_eta == late_eta
    assert set(delay[0].conditions) == {Condition.RISK, Condition.SLIP, Condition.LATE}


def test_a_level_below_one_already_alerted_stays_silent() -> None:
    late = {"eta_p50": PROMISE + dt.timedelta(hours=20), "window_start": PROMISE + dt.timedelta(hours=1)}
    state, sent = run(
        snap(1, p_late=0.9, **late), snap(2, p_late=0.9, eta_p50=PROMISE + dt.timedelta(hours=3))
    )
    assert [n.level for n in sent if n.type == NoticeType.DELAY_PREDICTED] == [Level.LATE]


def test_a_passed_promise_without_delivery_is_late() -> None:
    state, sent = run(snap(80))
    assert sent[0].level == Level.LATE and Condition.LATE in sent[0].conditions


def test_a_stall_alerts_once_per_silence_and_a_new_scan_ends_it() -> None:
    scan = T0 + dt.timedelta(hours=3)
    state, sent = run(
        snap(30, stalled=True, last_event_at=scan),
        snap(31, stalled=True, last_event_at=scan),
        snap(32, stalled=False, last_event_at=T0 + dt.timedelta(hours=32)),
    )
    assert types(sent) == ["shipment.delay_predicted", "shipment.stalled", "shipment.back_on_track"]
    assert sent[0].level == Level.WATCH and sent[1].dedupe_key == f"s1/stalled/{scan.isoformat()}"


def test_an_exception_scan_alerts_once_per_scan() -> None:
    state, sent = run(
        snap(5, exception_event_id="e4"), snap(6, exception_event_id="e4"), snap(7, exception_event_id="e9")
    )
    assert types(sent) == ["shipment.delay_predicted", "shipment.exception", "shipment.exception"]
    assert sent[0].level == Level.WATCH
    assert [n.dedupe_key for n in sent[1:]] == ["s1/exception/e4", "s1/exception/e9"]


def test_a_large_eta_move_is_announced_with_the_old_and_new_eta() -> None:
    first, later = PROMISE - dt.timedelta(hours=30), PROMISE - dt.timedelta(hours=10)
    state, sent = run(
        snap(1, eta_p50=first), snap(2, eta_p50=first + dt.timedelta(hours=3)), snap(3, eta_p50=later)
    )
    assert types(sent) == ["shipment.eta_changed"]
    assert (sent[0].old_eta, sent[0].new_eta) == (first, later)


def test_delivery_resolves_and_closes_the_shipment() -> None:
    state, sent = run(snap(1, p_late=0.8), snap(60, delivered_at=T0 + dt.timedelta(hours=59)))
    assert types(sent) == ["shipment.delay_predicted", "shipment.delivered"]
    assert state.delivered and evaluate(state, snap(61, p_late=0.9)) == (state, [])


def test_reasons_travel_with_the_notice() -> None:
    _, sent = run(snap(1, p_late=0.8, reasons=("weather", "carrier_backlog")))
    assert sent[0].reasons == ("weather", "carrier_backlog")


def test_the_state_survives_a_round_trip_through_a_plain_dict() -> None:
    state, _ = run(snap(1, p_late=0.8, stalled=True, last_event_at=T0, exception_event_id="e1"))
    assert AlertState.from_dict(state.as_dict()) == state and AlertState.from_dict(None) == AlertState()


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="clear_risk"):
        AlertRules(raise_risk=0.3, clear_risk=0.5)
