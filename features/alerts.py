"""Delay alert rules: a pure state machine from what is known about a shipment to the notices it owes.

`evaluate(state, snapshot, rules)` answers the shipment's next alert state and the notices to send, with no
clock, database or network: the service runs it inside the transaction that stored the triggering event,
and a batch re-scoring job applies the same rules to shipments in flight.

Conditions, each with the level it raises (in brackets, what turns it off again: the hysteresis):

- `risk` (1, watch): late risk >= `raise_risk` [late risk < `clear_risk`];
- `stalled` (1, watch): no scan for longer than the model expects [a new scan];
- `exception` (1, watch): an exception or customs-hold scan is the latest word [a later scan moves on];
- `slip` (2, likely): the ETA window slips past the promise: its most likely time lies after it [it lies
  `clear_margin_hours` before the promise];
- `late` (3, late): even the window's start lies after the promise, or the promise passed undelivered [the
  start lies `clear_margin_hours` before the promise].

A stall, an exception or a customs hold is often routine (a customs hold on a customs lane); the model's late
risk and window, which see them among their features, decide how far they escalate.

A delay *episode* starts at the first condition and ends when every condition is off (`back_on_track`) or at
delivery. Within an episode each level alerts once (`shipment.delay_predicted`, dedupe key
`<shipment>/<episode>/level-<n>`); a level below one already alerted stays silent, so a flapping score does
not flap alerts. Stalls and exceptions also have their own notices, once per silence and once per scan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Any


class Level(IntEnum):
    NONE = 0
    WATCH = 1
    LIKELY = 2
    LATE = 3


class Condition(StrEnum):
    RISK = "risk"
    SLIP = "slip"
    STALLED = "stalled"
    EXCEPTION = "exception"
    LATE = "late"


LEVEL_OF = {
    Condition.RISK: Level.WATCH,
    Condition.STALLED: Level.WATCH,
    Condition.EXCEPTION: Level.WATCH,
    Condition.SLIP: Level.LIKELY,
    Condition.LATE: Level.LATE,
}


class NoticeType(StrEnum):
    DELAY_PREDICTED = "shipment.delay_predicted"
    ETA_CHANGED = "shipment.eta_changed"
    STALLED = "shipment.stalled"
    EXCEPTION = "shipment.exception"
    BACK_ON_TRACK = "shipment.back_on_track"
    DELIVERED = "shipment.delivered"


EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in NoticeType)


@dataclass(frozen=True)
class AlertRules:
    raise_risk: float = 0.5
    clear_risk: float = 0.35
    clear_margin_hours: float = 6.0
    eta_change_hours: float = 12.0  # a most-likely ETA moving by this much from the last one announced

    def __post_init__(self) -> None:
        if not 0 <= self.clear_risk <= self.raise_risk <= 1:
            raise ValueError("need 0 <= clear_risk <= raise_risk <= 1")
        if self.clear_margin_hours < 0 or self.eta_change_hours <= 0:
            raise ValueError("clear_margin_hours must be >= 0 and eta_change_hours > 0")


@dataclass(frozen=True)
class Snapshot:
    """What is known about one shipment at `at` (timestamps timezone-aware)."""

    shipment_id: str
    at: dt.datetime
    promised_at: dt.datetime | None = None
    eta_p50: dt.datetime | None = None
    window_end: dt.datetime | None = None
    p_late: float | None = None
    window_start: dt.datetime | None = None
    stalled: bool = False
    last_event_at: dt.datetime | None = None  # names the silence a stall belongs to
    exception_event_id: str | None = None  # the exception or customs-hold scan that is the latest word
    delivered_at: dt.datetime | None = None
    reasons: tuple[str, ...] = ()  # reason codes, strongest first (features.reasons)


@dataclass(frozen=True)
class AlertState:
    """What the rules remember about one shipment between evaluations (stored as a plain dict)."""

    episode: int = 0
    level: Level = Level.NONE  # the highest level alerted in the current episode
    conditions: frozenset[Condition] = frozenset()
    announced_eta: dt.datetime | None = None  # the most likely ETA last announced
    stall_key: str | None = None  # the silence last announced as a stall
    exception_key: str | None = None  # the exception scan last announced
    delivered: bool = False

    def as_dict(self) -> dict[str, Any]:
        def iso(value: dt.datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "episode": self.episode, "level": int(self.level), "conditions": sorted(self.conditions),
            "announced_eta": iso(self.announced_eta), "stall_key": self.stall_key,
            "exception_key": self.exception_key, "delivered": self.delivered,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AlertState:
        if not data:
            return cls()
        eta = data.get("announced_eta")
        return cls(
            episode=int(data["episode"]), level=Level(data["level"]),
            conditions=frozenset(Condition(c) for c in data["conditions"]),
            announced_eta=None if eta is None else dt.datetime.fromisoformat(eta),
            stall_key=data.get("stall_key"), exception_key=data.get("exception_key"),
            delivered=bool(data.get("delivered")),
        )  # fmt: skip


@dataclass(frozen=True)
class Notice:
    """One notification owed: the same `dedupe_key` is never sent twice."""

    type: NoticeType
    shipment_id: str
    dedupe_key: str
    level: Level
    old_eta: dt.datetime | None
    new_eta: dt.datetime | None
    promised_at: dt.datetime | None
    window_end: dt.datetime | None
    p_late: float | None
    conditions: tuple[Condition, ...] = ()
    reasons: tuple[str, ...] = field(default=())


def _hours(a: dt.datetime, b: dt.datetime) -> float:
    return (a - b).total_seconds() / 3600


def conditions_at(previous: frozenset[Condition], s: Snapshot, rules: AlertRules) -> frozenset[Condition]:
    """The conditions on at this snapshot; one that was on stays on until it clears by the margin."""
    on: set[Condition] = set()
    was = previous.__contains__
    if s.p_late is not None and (
        s.p_late >= rules.raise_risk or (was(Condition.RISK) and s.p_late >= rules.clear_risk)
    ):
        on.add(Condition.RISK)
    margin = rules.clear_margin_hours
    if s.promised_at is not None:
        for condition, stamp in ((Condition.SLIP, s.eta_p50), (Condition.LATE, s.window_start)):
            after = None if stamp is None else _hours(stamp, s.promised_at)
            if after is not None and (after > 0 or (was(condition) and after > -margin)):
                on.add(condition)
        if s.at > s.promised_at:
            on.add(Condition.LATE)
    if s.stalled:
        on.add(Condition.STALLED)
    if s.exception_event_id is not None:
        on.add(Condition.EXCEPTION)
    return frozenset(on)


def level_of(conditions: frozenset[Condition]) -> Level:
    return max((LEVEL_OF[c] for c in conditions), default=Level.NONE)


DEFAULT_RULES = AlertRules()


def evaluate(
    state: AlertState, s: Snapshot, rules: AlertRules = DEFAULT_RULES
) -> tuple[AlertState, list[Notice]]:
    """The next state and the notices owed, in the order they should be sent."""
    if state.delivered:
        return state, []

    def notice(kind: NoticeType, key: str, level: Level, conditions: Sequence[Condition] = ()) -> Notice:
        return Notice(
            kind, s.shipment_id, f"{s.shipment_id}/{key}", level, state.announced_eta, s.eta_p50,
            s.promised_at, s.window_end, s.p_late, tuple(sorted(conditions)), s.reasons,
        )  # fmt: skip

    if s.delivered_at is not None:
        done = replace(state, delivered=True, conditions=frozenset(), level=Level.NONE)
        return done, [notice(NoticeType.DELIVERED, "delivered", state.level)]

    out: list[Notice] = []
    conditions = conditions_at(state.conditions, s, rules)
    level = level_of(conditions)
    new = replace(state, conditions=conditions)
    if level > state.level:
        key = f"{state.episode}/level-{int(level)}"
        out.append(notice(NoticeType.DELAY_PREDICTED, key, level, sorted(conditions)))
        new = replace(new, level=level)
    if Condition.STALLED in conditions:
        silence = (s.last_event_at or s.at).isoformat()
        if silence != state.stall_key:
            out.append(notice(NoticeType.STALLED, f"stalled/{silence}", new.level, [Condition.STALLED]))
            new = replace(new, stall_key=silence)
    if s.exception_event_id is not None and s.exception_event_id != state.exception_key:
        key = f"exception/{s.exception_event_id}"
        out.append(notice(NoticeType.EXCEPTION, key, new.level, [Condition.EXCEPTION]))
        new = replace(new, exception_key=s.exception_event_id)
    if s.eta_p50 is not None:
        moved = state.announced_eta is None or abs(_hours(s.eta_p50, state.announced_eta)) >= (
            rules.eta_change_hours
        )
        if moved:
            if state.announced_eta is not None:
                key = f"eta/{s.eta_p50.isoformat()}"
                out.append(notice(NoticeType.ETA_CHANGED, key, new.level, sorted(conditions)))
            new = replace(new, announced_eta=s.eta_p50)
    if state.level > Level.NONE and level == Level.NONE:
        out.append(notice(NoticeType.BACK_ON_TRACK, f"{state.episode}/back-on-track", Level.NONE))
        new = replace(new, level=Level.NONE, episode=state.episode + 1)
    return new, out
