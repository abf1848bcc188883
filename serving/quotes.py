"""Checkout quotes: a delivery window per shipping option, as timestamps and as local delivery dates.

The request becomes shipments in the canonical contract and goes through the model bundle's `predict`, the
same code `python -m training predict` runs, so the HTTP answer equals the offline prediction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from features.bundle import ModelBundle
from features.contract import validate_shipments
from features.dates import DeliveryCalendar, local_dates
from features.geo import country_timezone
from serving.errors import ProblemError


class InvalidQuote(ProblemError):
    status = 422


POLICIES = {"balanced": 0.8, "conservative": 0.95}
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True, pattern=r"\S")]
AttrValue = str | float | int | bool
EARLIEST, LATEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def _moment(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("needs a time zone (e.g. 2026-11-22T10:00:00Z)")
    if not EARLIEST <= value < LATEST:
        raise ValueError("must lie between 2000 and 2100")
    return value


def _wall_clock(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError("is a local wall-clock time: give it without an offset (e.g. 15:30)")
    return value


Moment = Annotated[dt.datetime, AfterValidator(_moment)]


class Place(BaseModel):
    model_config = ConfigDict(extra="forbid")
    country: Country
    region: Code | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _both_coordinates(self) -> Place:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class ShippingOption(BaseModel):
    model_config = ConfigDict(extra="forbid")
    carrier: Code
    service: Code
    handling_hours: float | None = Field(default=None, ge=0, le=720, description="time before hand-over")
    cutoff_local: Annotated[dt.time, AfterValidator(_wall_clock)] | None = Field(
        default=None, description="orders after this origin-local time ship the next day"
    )


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    origin: Place
    destination: Place
    created_at: Moment | None = Field(default=None, description="order time; default now")
    weight_kg: float | None = Field(default=None, gt=0, le=50_000)
    coverage: float | None = Field(default=None, ge=0.5, le=0.99)
    policy: Literal["balanced", "conservative"] | None = None
    by_date: dt.date | None = Field(
        default=None, description="also answer P(delivered by the end of this date)"
    )
    attributes: dict[Code, AttrValue] = Field(default_factory=dict, max_length=20)
    options: list[ShippingOption] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _one_coverage(self) -> QuoteRequest:
        if self.coverage is not None and self.policy is not None:
            raise ValueError("give either coverage or policy, not both")
        return self

    def resolved_coverage(self, default: float) -> float:
        return self.coverage or (POLICIES[self.policy] if self.policy else default)


class Quote(BaseModel):
    carrier: str
    service: str
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    earliest_date: dt.date | None
    latest_date: dt.date | None
    most_likely_date: dt.date | None
    coverage: float
    p_on_time_by: float | None = None
    prediction_source: Literal["model", "fallback"]
    model_version: str | None
    reason: str | None = Field(default=None, description="why no dates were given (abstention)")


class QuoteResponse(BaseModel):
    quotes: list[Quote]


def effective_start(created_at: pd.Timestamp, option: ShippingOption, origin_country: str) -> pd.Timestamp:
    """Order time moved by the shop's own handling time and past its dispatch cut-off: an order after the
    cut-off is treated as placed at the start of the next local day."""
    start = created_at + pd.Timedelta(hours=option.handling_hours or 0)
    if option.cutoff_local is not None:
        local = start.tz_convert(country_timezone(origin_country))
        if local.time() > option.cutoff_local:
            start = (local.normalize() + pd.Timedelta(days=1)).tz_convert("UTC")
    return start


def to_shipments(req: QuoteRequest, created_at: pd.Timestamp) -> pd.DataFrame:
    """One contract row per option (validated like any imported history)."""
    rows = []
    for i, option in enumerate(req.options):
        row = {
            "shipment_id": f"quote-{i}",
            "carrier": option.carrier,
            "service": option.service,
            "created_at": effective_start(created_at, option, req.origin.country),
            "weight_kg": req.weight_kg,
            **{
                f"{side}_{k}": getattr(place, k)
                for side, place in (("origin", req.origin), ("destination", req.destination))
                for k in ("country", "region", "lat", "lon")
            },
            **{f"attr_{k}": v for k, v in req.attributes.items()},
        }
        rows.append(row)
    checked = validate_shipments(pd.DataFrame(rows))
    if checked.n_rejected:
        raise InvalidQuote(f"The request does not describe valid shipments: {checked.reasons}")
    return checked.valid


def quote(
    bundle: ModelBundle | None,
    req: QuoteRequest,
    now: dt.datetime,
    default_coverage: float,
    fallback: Callable[[pd.DataFrame, float], pd.DataFrame] | None = None,
) -> QuoteResponse:
    created = pd.Timestamp(req.created_at or now).tz_convert("UTC")
    shipments = to_shipments(req, created)
    coverage = req.resolved_coverage(default_coverage)
    if bundle is not None:
        pred = bundle.predict(shipments, coverage=coverage)
    elif fallback is not None:
        pred = fallback(shipments, coverage)
    else:
        pred = pd.DataFrame(
            {
                "eta_p50": pd.NaT,
                "window_start": pd.NaT,
                "window_end": pd.NaT,
                "prediction_source": "fallback",
                "model_version": None,
            },
            index=shipments.index,
        )
    p_by = None
    if req.by_date is not None and bundle is not None:
        p_by = probability_by(bundle, shipments, req.by_date)
    calendar = (
        DeliveryCalendar(bundle.features.calendar_, bundle.features.delivery_weekdays_) if bundle else None
    )
    return QuoteResponse(quotes=[
        _shape(shipments.iloc[i], pred.iloc[i], coverage, calendar, None if p_by is None else p_by[i])
        for i in range(len(shipments))
    ])  # fmt: skip


def probability_by(bundle: ModelBundle, shipments: pd.DataFrame, by_date: dt.date) -> np.ndarray:
    """P(delivered before the end of `by_date` in the destination's local time)."""
    tz = [country_timezone(c) for c in shipments["destination_country"]]
    deadline = [pd.Timestamp(by_date + dt.timedelta(days=1), tz=z).tz_convert("UTC") for z in tz]
    hours = np.array(
        [(d - c).total_seconds() / 3600 for d, c in zip(deadline, shipments["created_at"], strict=True)]
    )
    p = bundle.probability_within(shipments, np.maximum(hours, 0))
    return np.where(hours <= 0, 0.0, p)


def _shape(
    shipment: pd.Series,
    pred: pd.Series,
    coverage: float,
    calendar: DeliveryCalendar | None,
    p_by: float | None,
) -> Quote:
    if pd.isna(pred["eta_p50"]):
        return Quote(
            carrier=shipment["carrier"], service=shipment["service"], window_start=None, window_end=None,
            earliest_date=None, latest_date=None, most_likely_date=None, coverage=coverage,
            prediction_source="fallback", model_version=pred.get("model_version") or None,
            reason="no model and no delivery history for this lane or carrier",
        )  # fmt: skip
    country = pd.Series([shipment["destination_country"]] * 3)
    start, likely, end = local_dates(
        pd.Series([pred["window_start"], pred["eta_p50"], pred["window_end"]]), country
    )
    if calendar is not None:
        carrier, dest = str(shipment["carrier"]), str(shipment["destination_country"])
        start = calendar.shift(carrier, dest, start, forward=True)
        likely = calendar.shift(carrier, dest, likely, forward=True)
        end = max(calendar.shift(carrier, dest, end, forward=False), start)
        likely = min(max(likely, start), end)
    return Quote(
        carrier=shipment["carrier"], service=shipment["service"],
        window_start=pred["window_start"].to_pydatetime(), window_end=pred["window_end"].to_pydatetime(),
        earliest_date=start, latest_date=end, most_likely_date=likely, coverage=coverage,
        p_on_time_by=None if p_by is None else float(p_by), prediction_source=pred["prediction_source"],
        model_version=pred.get("model_version") or None,
    )  # fmt: skip
