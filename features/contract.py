"""The canonical shipment contract: shipments, tracking events and the weather table.

Every importer and the simulator produce frames in this shape; training and serving read nothing else.
Validation never raises on bad data: each bad row is rejected with a reason and counted, the rest is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import numpy as np
import pandas as pd


class EventStatus(StrEnum):
    """Canonical tracking statuses; every carrier's scan codes map onto these."""

    LABEL_CREATED = "label_created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    ARRIVED_AT_FACILITY = "arrived_at_facility"
    DEPARTED_FACILITY = "departed_facility"
    CUSTOMS_HOLD = "customs_hold"
    CUSTOMS_CLEARED = "customs_cleared"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_ATTEMPTED = "delivery_attempted"
    EXCEPTION = "exception"
    DELIVERED = "delivered"
    RETURNED = "returned"


STATUSES: tuple[str, ...] = tuple(s.value for s in EventStatus)
UNKNOWN_COUNTRY = "ZZ"

# column -> pandas dtype. Timestamps are tz-aware UTC.
UTC_TS: Final = "datetime64[ns, UTC]"
SHIPMENT_COLUMNS: dict[str, str] = {
    "shipment_id": "string",
    "carrier": "string",
    "service": "string",
    "origin_country": "string",
    "destination_country": "string",
    "origin_region": "string",
    "destination_region": "string",
    "origin_lat": "float64",
    "origin_lon": "float64",
    "destination_lat": "float64",
    "destination_lon": "float64",
    "created_at": UTC_TS,
    "shipped_at": UTC_TS,
    "promised_at": UTC_TS,
    "delivered_at": UTC_TS,
    "delivered_late": "boolean",
    "weight_kg": "float64",
    "distance_km": "float64",
    "weather_condition": "string",
}
SHIPMENT_REQUIRED = ("shipment_id", "carrier", "service", "origin_country", "destination_country")

EVENT_COLUMNS: dict[str, str] = {
    "event_id": "string",
    "shipment_id": "string",
    "occurred_at": UTC_TS,
    "status": "string",
    "region": "string",
    "country": "string",
    "description": "string",
}

WEATHER_COLUMNS: dict[str, str] = {
    "country": "string",
    "region": "string",
    "date": "datetime64[ns]",
    "precip_mm": "float64",
    "snow_cm": "float64",
    "temp_c": "float64",
    "wind_kph": "float64",
    "severe_alert": "bool",
}

_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass
class Validated:
    """Rows that passed, rows that did not (with a `reason` column), and counts by reason."""

    valid: pd.DataFrame
    rejected: pd.DataFrame
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def n_kept(self) -> int:
        return len(self.valid)

    @property
    def n_rejected(self) -> int:
        return len(self.rejected)

    def summary(self, name: str = "rows") -> str:
        lines = [f"{name}: kept {self.n_kept:,}, rejected {self.n_rejected:,}"]
        lines += [
            f"  rejected {n:,}: {reason}" for reason, n in sorted(self.reasons.items(), key=lambda kv: -kv[1])
        ]
        return "\n".join(lines)


class _Rejector:
    """Collects the first failing reason per row, in the order the checks are applied."""

    def __init__(self, index: pd.Index) -> None:
        self.reason = pd.Series(pd.NA, index=index, dtype="string")

    def check(self, bad: pd.Series | np.ndarray, reason: str) -> None:
        bad = pd.Series(bad, index=self.reason.index).fillna(False).astype(bool)
        self.reason = self.reason.mask(bad & self.reason.isna(), reason)

    def check_duplicates(self, keys: pd.DataFrame | pd.Series, reason: str) -> None:
        """Reject repeats of a key among the rows still valid; the first occurrence is kept."""
        ok = self.reason.isna()
        dup = pd.Series(False, index=self.reason.index)
        dup[ok] = keys[ok].duplicated(keep="first")
        self.check(dup, reason)

    def split(self, df: pd.DataFrame) -> Validated:
        bad = self.reason.notna()
        rejected = df[bad].copy()
        rejected["reason"] = self.reason[bad]
        reasons = {str(k): int(v) for k, v in self.reason[bad].value_counts().items()}
        return Validated(
            valid=df[~bad].reset_index(drop=True), rejected=rejected.reset_index(drop=True), reasons=reasons
        )


def to_utc(values: pd.Series) -> pd.Series:
    """Parse to tz-aware UTC; naive values are taken as UTC, unparseable ones become NaT."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype(UTC_TS)
    out = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    return out.astype(UTC_TS)


def text_value(value: object) -> str | None:
    """One text cell as `_conform` leaves it: stripped, empty as missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value).strip() or None


def country_code(value: object) -> str:
    """One country cell as `validate_shipments` leaves it: upper-case, `ZZ` when unknown."""
    text = text_value(value)
    return text.upper() if text is not None else UNKNOWN_COUNTRY


def _conform(df: pd.DataFrame, columns: dict[str, str], keep_prefix: str | None = None) -> pd.DataFrame:
    """Add missing contract columns as nulls; cast each to its contract dtype (contract order first)."""
    out = pd.DataFrame(index=df.index)
    for col, dtype in columns.items():
        if col not in df:
            out[col] = pd.Series(False if dtype == "bool" else None, index=df.index, dtype=dtype)
            continue
        s = df[col]
        if dtype == UTC_TS:
            out[col] = to_utc(s)
        elif dtype == "datetime64[ns]":
            out[col] = pd.to_datetime(s, errors="coerce").dt.normalize().astype("datetime64[ns]")
        elif dtype == "float64":
            out[col] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif dtype == "boolean":
            out[col] = s.astype("boolean")
        elif dtype == "bool":
            out[col] = s.fillna(False).astype(bool)
        else:
            text = s.astype("string").str.strip()
            out[col] = text.mask(text == "")
    if keep_prefix:
        for col in df.columns:
            if col.startswith(keep_prefix):
                out[col] = df[col]
    return out


def validate_shipments(df: pd.DataFrame) -> Validated:
    """Conform a frame to the shipment contract and reject rows that break it, each with a reason."""
    out = _conform(df, SHIPMENT_COLUMNS, keep_prefix="attr_")
    for col in ("origin_country", "destination_country"):
        out[col] = out[col].str.upper().fillna(UNKNOWN_COUNTRY)
    r = _Rejector(out.index)
    for col in SHIPMENT_REQUIRED:
        r.check(out[col].isna(), f"missing {col}")
    for col in ("origin_country", "destination_country"):
        r.check(
            ~out[col].str.match(_COUNTRY).fillna(False).astype(bool), f"invalid {col} (ISO 3166-1 alpha-2)"
        )
    outcome_only = out["created_at"].isna() & out["delivered_late"].notna() & out["delivered_at"].isna()
    r.check(out["created_at"].isna() & ~outcome_only, "missing created_at")
    for col in ("shipped_at", "promised_at", "delivered_at"):
        r.check(out[col] < out["created_at"], f"{col} before created_at")
    for side in ("origin", "destination"):
        lat, lon = out[f"{side}_lat"], out[f"{side}_lon"]
        r.check((lat.abs() > 90) | (lon.abs() > 180), f"{side} coordinates out of range")
        r.check(lat.isna() != lon.isna(), f"{side} coordinates incomplete")
    for col in ("weight_kg", "distance_km"):
        r.check(out[col] < 0, f"negative {col}")
    r.check_duplicates(out["shipment_id"], "duplicate shipment_id")
    result = r.split(out)
    v = result.valid
    # Where both times exist the outcome is derived, so `delivered_late` never contradicts the timestamps.
    both = v["delivered_at"].notna() & v["promised_at"].notna()
    v.loc[both, "delivered_late"] = v.loc[both, "delivered_at"] > v.loc[both, "promised_at"]
    return result


def validate_events(df: pd.DataFrame) -> Validated:
    """Conform tracking events; reject unknown statuses, missing keys and repeated `event_id`s."""
    out = _conform(df, EVENT_COLUMNS)
    out["status"] = out["status"].str.lower()
    out["country"] = out["country"].str.upper()
    r = _Rejector(out.index)
    for col in ("event_id", "shipment_id", "occurred_at", "status"):
        r.check(out[col].isna(), f"missing {col}")
    r.check(~out["status"].isin(STATUSES), "unknown status")
    r.check_duplicates(out["event_id"], "duplicate event_id")
    result = r.split(out)
    result.valid = result.valid.sort_values(["shipment_id", "occurred_at"], kind="stable").reset_index(
        drop=True
    )
    return result


def validate_weather(df: pd.DataFrame) -> Validated:
    """Conform the daily weather table; one row per (country, region, date)."""
    out = _conform(df, WEATHER_COLUMNS)
    out["country"] = out["country"].str.upper()
    r = _Rejector(out.index)
    for col in ("country", "date"):
        r.check(out[col].isna(), f"missing {col}")
    r.check_duplicates(out[["country", "region", "date"]], "duplicate country/region/date")
    return r.split(out)
