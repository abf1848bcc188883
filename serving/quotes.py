"""Checkout quotes: a delivery window per shipping option, as timestamps and as local delivery dates.

The request becomes shipments in the canonical contract, as plain columns, and goes through the model
bundle's `predict_columns`: the code behind `predict`, which `python -m training predict` runs, so the HTTP
answer equals the offline prediction, without a DataFrame per request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, cast

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from features.bundle import AdaptiveCoverage, ModelBundle
from features.calendar import EPOCH as CALENDAR_EPOCH
from features.calendar import day_number
from features.columns import Columns, FrameColumns, column_array, shipment_columns
from features.contract import to_utc, validate_shipments
from features.dates import DeliveryCalendar
from features.localtime import DAY, EPOCH, NS, hours_between, local_days, utc_of_local, utc_offsets
from serving.errors import ProblemError


class InvalidQuote(ProblemError):
    status = 422


POLICIES = {"balanced": 0.8, "conservative": 0.95}
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True, pattern=r"\S")]
AttrValue = str | float | int | bool
Source = Literal["model", "fallback"]
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

    def contract_fields(self, side: str) -> dict[str, Any]:
        """This place as the contract's `origin_*` or `destination_*` columns."""
        return {f"{side}_{k}": getattr(self, k) for k in ("country", "region", "lat", "lon")}

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
        if self.by_date is not None and not EARLIEST.date() <= self.by_date < LATEST.date():
            raise ValueError("by_date must lie between 2000 and 2100")
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
    prediction_source: Source
    model_version: str | None
    reason: str | None = Field(default=None, description="why no dates were given (abstention)")


class QuoteResponse(BaseModel):
    quotes: list[Quote]


def _ns(moment: dt.datetime) -> int:
    """Nanoseconds since 1970 (UTC) of an aware datetime or pandas Timestamp."""
    return (moment - EPOCH) // dt.timedelta(microseconds=1) * 1000 + getattr(moment, "nanosecond", 0)


def _time_ns(t: dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * NS + t.microsecond * 1000


def effective_starts(req: QuoteRequest, created_at: dt.datetime) -> np.ndarray:
    """Each option's order time moved by the shop's own handling time and past its dispatch cut-off: an order
    after the cut-off is treated as placed at the start of the next local day (datetime64[ns], UTC)."""
    handling = [pd.Timedelta(hours=o.handling_hours).value if o.handling_hours else 0 for o in req.options]
    start = _ns(created_at) + np.array(handling, dtype=np.int64)
    cutoffs = [o.cutoff_local for o in req.options]
    if any(c is not None for c in cutoffs):
        countries = np.full(len(start), req.origin.country, dtype=object)
        local = start + utc_offsets(countries, start // NS) * NS
        day, time_of_day = np.divmod(local, DAY * NS)
        late = np.array(
            [c is not None and t > _time_ns(c) for c, t in zip(cutoffs, time_of_day, strict=True)]
        )
        next_day = (utc_of_local(day * DAY, countries) + DAY) * NS  # local midnight, plus 24 hours
        start = np.where(late, next_day, start)
    return start.view("datetime64[ns]")


def _request_values(req: QuoteRequest, created_at: dt.datetime) -> dict[str, list[Any] | np.ndarray]:
    n = len(req.options)
    places = {**req.origin.contract_fields("origin"), **req.destination.contract_fields("destination")}
    return {
        "shipment_id": [f"quote-{i}" for i in range(n)],
        "carrier": [o.carrier for o in req.options],
        "service": [o.service for o in req.options],
        "created_at": effective_starts(req, created_at),
        "weight_kg": [req.weight_kg] * n,
        **{column: [value] * n for column, value in places.items()},
        **{f"attr_{k}": [v] * n for k, v in req.attributes.items()},
    }


def to_shipments(req: QuoteRequest, created_at: pd.Timestamp) -> pd.DataFrame:
    """One contract row per option (validated like any imported history)."""
    values = _request_values(req, created_at)
    checked = validate_shipments(
        pd.DataFrame({**values, "created_at": to_utc(pd.Series(values["created_at"]))})
    )
    if checked.n_rejected:
        raise InvalidQuote(f"The request does not describe valid shipments: {checked.reasons}")
    return checked.valid


def request_columns(req: QuoteRequest, created_at: dt.datetime) -> dict[str, np.ndarray]:
    """The same shipments as `to_shipments`, as plain columns: the schema has already checked every value."""
    return shipment_columns(_request_values(req, created_at), len(req.options))


def quote(
    bundle: ModelBundle | None,
    req: QuoteRequest,
    now: dt.datetime,
    default_coverage: float,
    fallback: Callable[[pd.DataFrame, float], pd.DataFrame] | None = None,
    online: AdaptiveCoverage | None = None,
) -> QuoteResponse:
    """Windows per option; `online`: the online calibration levels of the model's segments, if any."""
    created = req.created_at or now
    coverage = req.resolved_coverage(default_coverage)
    columns: Columns
    p_by = None
    if bundle is None:
        shipments = to_shipments(req, pd.Timestamp(created))
        columns = FrameColumns(shipments)
        pred = _without_model(shipments, coverage, fallback)
    else:
        columns = request_columns(req, created)
        by = None if req.by_date is None else hours_to_end_of(columns, req.by_date)
        pred = bundle.predict_columns(
            columns, coverage, late_risk=False, online=online, within_hours=by
        )  # no late risk: a quote has no promise yet
        if by is not None:
            p_by = np.where(by <= 0, 0.0, pred["p_within"])
    calendar = bundle.delivery_calendar() if bundle else None
    return QuoteResponse.model_construct(quotes=_shape(columns, pred, coverage, calendar, p_by))


def _without_model(
    shipments: pd.DataFrame, coverage: float, fallback: Callable[[pd.DataFrame, float], pd.DataFrame] | None
) -> dict[str, np.ndarray]:
    """The fallback's answer (or an abstention for every option) as prediction columns."""
    n = len(shipments)
    if fallback is None:
        nat = np.full(n, np.datetime64("NaT", "ns"))
        return {
            **{k: nat for k in ("eta_p50", "window_start", "window_end")},
            "prediction_source": np.full(n, "fallback", dtype=object),
            "model_version": np.full(n, None, dtype=object),
        }
    pred = fallback(shipments, coverage)
    stamps = ("eta_p50", "window_start", "window_end")
    return {
        **{k: column_array(pd.to_datetime(pred[k], utc=True)) for k in stamps},
        "prediction_source": pred["prediction_source"].to_numpy(dtype=object),
        "model_version": pred["model_version"].to_numpy(dtype=object),
    }


def hours_to_end_of(shipments: Columns, by_date: dt.date) -> np.ndarray:
    """Hours from each shipment's creation to the end of `by_date` in the destination's local time."""
    countries = shipments["destination_country"]
    midnight = np.full(len(countries), day_number(by_date + dt.timedelta(days=1)) * DAY)
    deadline = (utc_of_local(midnight, countries) * NS).view("datetime64[ns]")
    return hours_between(shipments["created_at"], deadline)


FORWARD_BACKWARD = np.array([True, True, False])  # window start, most likely day, window end


def _utc(ns: np.datetime64) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(ns.astype(np.int64)) // 1000)


def _shape(
    shipments: Columns,
    pred: Mapping[str, np.ndarray],
    coverage: float,
    calendar: DeliveryCalendar | None,
    p_by: np.ndarray | None,
) -> list[Quote]:
    """A quote per option: the window as timestamps and as local dates on the carrier's delivery days."""
    n = len(pred["eta_p50"])
    carriers, services = shipments["carrier"], shipments["service"]
    countries = shipments["destination_country"]
    stamps = np.concatenate([pred["window_start"], pred["eta_p50"], pred["window_end"]])
    days = local_days(stamps, np.concatenate([countries] * 3)).view(np.int64).reshape(3, n)
    quotes = []
    for i in range(n):
        version = pred["model_version"][i] or None
        if np.isnat(pred["eta_p50"][i]):
            quotes.append(Quote.model_construct(
                carrier=carriers[i], service=services[i], window_start=None, window_end=None,
                earliest_date=None, latest_date=None, most_likely_date=None, coverage=coverage,
                prediction_source="fallback", model_version=version,
                reason="no model and no delivery history for this lane or carrier",
            ))  # fmt: skip
            continue
        start, likely, end = days[:, i]
        if calendar is not None:  # onto delivery days: start and most likely forward, end backward
            moved = calendar.shift_days(str(carriers[i]), str(countries[i]), days[:, i], FORWARD_BACKWARD)
            start, likely, end = moved[0], moved[1], max(moved[2], moved[0])
            likely = min(max(likely, start), end)
        start, likely, end = (CALENDAR_EPOCH + dt.timedelta(days=int(d)) for d in (start, likely, end))
        quotes.append(Quote.model_construct(
            carrier=carriers[i], service=services[i],
            window_start=_utc(pred["window_start"][i]), window_end=_utc(pred["window_end"][i]),
            earliest_date=start, latest_date=end, most_likely_date=likely, coverage=coverage,
            p_on_time_by=None if p_by is None else float(p_by[i]),
            prediction_source=cast(Source, str(pred["prediction_source"][i])), model_version=version,
        ))  # fmt: skip
    return quotes
