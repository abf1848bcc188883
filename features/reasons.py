"""Why a shipment is late: model feature contributions grouped into a fixed taxonomy of delay reasons.

LightGBM's `pred_contrib` splits each prediction into one additive part per feature (SHAP values) plus the
expected value. A part above zero pushes the prediction towards a later delivery (a longer remaining time or
a higher late risk). Features are grouped into the reasons a customer or an ops team understands; the
features no reason claims (the shipment's progress so far, the parcel, the order hour) explain nothing a
person could act on and are left out. Facts the scans state outright (a stall, an exception, a customs
hold) come first, whatever the model says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from features.build import WEATHER_FIELDS


class Reason(StrEnum):
    WEATHER = "weather"
    CUSTOMS = "customs"
    CARRIER_BACKLOG = "carrier_backlog"
    HOLIDAY_OR_WEEKEND = "holiday_or_weekend"
    LONG_OR_RARE_LANE = "long_or_rare_lane"
    STALLED = "stalled"
    EXCEPTION = "exception"


MESSAGES = {
    Reason.WEATHER: "Severe weather on the route is slowing deliveries.",
    Reason.CUSTOMS: "The parcel crosses a customs border, and clearance takes time.",
    Reason.CARRIER_BACKLOG: "The carrier's network is busier than usual and parcels are moving slowly.",
    Reason.HOLIDAY_OR_WEEKEND: "A public holiday or a weekend falls on the way, when parcels do not move.",
    Reason.LONG_OR_RARE_LANE: "This is a long route, or one with few past deliveries to go by.",
    Reason.STALLED: "There has been no scan for longer than usual.",
    Reason.EXCEPTION: "The carrier reported a problem with the parcel.",
}

_BY_NAME: dict[str, Reason] = {
    **{f"{side}_{k}": Reason.WEATHER for side in ("origin", "destination") for k in WEATHER_FIELDS},
    "cat_weather_condition": Reason.WEATHER,
    "customs": Reason.CUSTOMS,
    "cross_border": Reason.CUSTOMS,
    "customs_hold_seen": Reason.CUSTOMS,
    "peak_season": Reason.CARRIER_BACKLOG,
    "origin_holiday": Reason.HOLIDAY_OR_WEEKEND,
    "destination_holiday": Reason.HOLIDAY_OR_WEEKEND,
    "days_to_destination_holiday": Reason.HOLIDAY_OR_WEEKEND,
    "day_of_week": Reason.HOLIDAY_OR_WEEKEND,
    "business_days_in_window": Reason.HOLIDAY_OR_WEEKEND,
    "non_business_days_in_window": Reason.HOLIDAY_OR_WEEKEND,
    "destination_holidays_in_window": Reason.HOLIDAY_OR_WEEKEND,
    "origin_holidays_in_window": Reason.HOLIDAY_OR_WEEKEND,
    "distance_km": Reason.LONG_OR_RARE_LANE,
    "expected_days": Reason.LONG_OR_RARE_LANE,
    "history_reference_hours": Reason.LONG_OR_RARE_LANE,
    "cat_lane": Reason.LONG_OR_RARE_LANE,
    "cat_origin_country": Reason.LONG_OR_RARE_LANE,
    "cat_destination_country": Reason.LONG_OR_RARE_LANE,
    "hours_since_event": Reason.STALLED,
    "exception_seen": Reason.EXCEPTION,
    "delivery_attempted_seen": Reason.EXCEPTION,
}
# recent transit times of the carrier and the whole network show a backlog; those of the lane, its rarity
_BY_PREFIX = (
    ("carrier_service_", Reason.CARRIER_BACKLOG),
    ("carrier_", Reason.CARRIER_BACKLOG),
    ("network_", Reason.CARRIER_BACKLOG),
    ("lane_", Reason.LONG_OR_RARE_LANE),
)


def reason_of(feature: str) -> Reason | None:
    """The reason a feature speaks for, or None for one that names no reason a person can act on."""
    if feature in _BY_NAME:
        return _BY_NAME[feature]
    return next((reason for prefix, reason in _BY_PREFIX if feature.startswith(prefix)), None)


@dataclass(frozen=True)
class DelayReason:
    code: Reason
    message: str
    weight: float  # the summed contributions towards lateness (model units); inf for a fact from the scans

    def as_dict(self) -> dict[str, str | float | None]:
        return {"code": self.code.value, "message": self.message, "weight": _finite(self.weight)}


def _finite(weight: float) -> float | None:
    return round(weight, 4) if np.isfinite(weight) else None


def group_contributions(names: Sequence[str], contributions: np.ndarray) -> dict[Reason, float]:
    """Sum of the contributions towards lateness (the parts above zero) per reason, for one prediction.

    `contributions`: one row of `pred_contrib` (one value per feature, the expected value last or absent).
    """
    values = np.asarray(contributions, dtype=float)[: len(names)]
    out: dict[Reason, float] = {}
    for name, value in zip(names, values, strict=True):
        reason = reason_of(name)
        if reason is not None and value > 0:
            out[reason] = out.get(reason, 0.0) + float(value)
    return out


def delay_reasons(
    names: Sequence[str] | None = None,
    contributions: np.ndarray | None = None,
    facts: Iterable[Reason] = (),
    min_weight: float = 0.05,
    limit: int = 3,
) -> list[DelayReason]:
    """The reasons for one shipment, strongest first: facts from the scans, then the model's reasons whose
    contributions reach `min_weight`, at most `limit` in all."""
    out = [DelayReason(code, MESSAGES[code], float("inf")) for code in dict.fromkeys(facts)]
    if names is not None and contributions is not None:
        grouped = group_contributions(names, contributions)
        ranked = sorted(grouped.items(), key=lambda item: -item[1])
        out += [
            DelayReason(code, MESSAGES[code], weight)
            for code, weight in ranked
            if weight >= min_weight and code not in {r.code for r in out}
        ]
    return out[:limit]
