"""Contract frames from the simulation arrays: strings are built once from integer codes with pyarrow.

String columns are pyarrow-backed `string` (pandas' `ArrowStringArray`), so building them and writing them to
parquet never goes through Python objects.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract import EVENT_COLUMNS, SHIPMENT_COLUMNS
from training.simulate.demand import PARCEL_TYPES
from training.simulate.events import DESCRIPTIONS
from training.simulate.network import COUNTRIES, SERVICES, Network

_LS = pa.large_string()
_NAT = np.iinfo(np.int64).min


def labels(codes: np.ndarray, names: tuple[str, ...] | list[str]) -> pd.Series:
    """A `string` column from integer codes into `names`."""
    dictionary = pa.array(list(names), type=_LS)
    return pd.Series(pa.DictionaryArray.from_arrays(pa.array(codes), dictionary).cast(_LS), dtype="string")


def timestamps(hours: np.ndarray, start: date) -> pd.Series:
    """UTC timestamps (truncated to whole seconds) from float hours since `start`; NaN becomes NaT."""
    base = pd.Timestamp(start).value
    ns = base + np.floor(np.nan_to_num(hours) * 3600.0).astype(np.int64) * 1_000_000_000
    ns[np.isnan(hours)] = _NAT
    return pd.Series(pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC"))


def shipment_ids(n: int, first: int = 1) -> pa.Array:
    """SH0000001, SH0000002, ... from `first` (zero-padded to at least 7 digits)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(first, first + n)), _LS), 7, "0")
    return pc.binary_join_element_wise(pa.scalar("SH", _LS), digits, pa.scalar("", _LS))


def shipments_frame(x: dict, net: Network, start: date, end_h: float, first_id: int = 1) -> pd.DataFrame:
    """One row per shipment in contract columns and dtypes, plus `attr_parcel_type`."""
    country = net.region_country
    after_end = x["delivered"] > end_h
    delivered = np.where(after_end, np.nan, x["delivered"])
    late = np.nan_to_num(delivered) > x["promised"]
    cols = {
        "shipment_id": pd.Series(shipment_ids(len(delivered), first_id), dtype="string"),
        "carrier": labels(x["carrier"].astype(np.int8), [c.code for c in net.carriers]),
        "service": labels(x["service"].astype(np.int8), SERVICES),
        "origin_country": labels(country[x["origin"]].astype(np.int8), COUNTRIES),
        "destination_country": labels(country[x["dest"]].astype(np.int8), COUNTRIES),
        "origin_region": labels(x["origin"].astype(np.int8), net.region_codes),
        "destination_region": labels(x["dest"].astype(np.int8), net.region_codes),
        "origin_lat": np.round(x["o_lat"], 4),
        "origin_lon": np.round(x["o_lon"], 4),
        "destination_lat": np.round(x["d_lat"], 4),
        "destination_lon": np.round(x["d_lon"], 4),
        "created_at": timestamps(x["created"], start),
        "shipped_at": timestamps(np.where(x["shipped"] > end_h, np.nan, x["shipped"]), start),
        "promised_at": timestamps(x["promised"], start),
        "delivered_at": timestamps(delivered, start),
        "delivered_late": pd.arrays.BooleanArray(late, np.isnan(delivered)),
        "weight_kg": x["weight"],
        "distance_km": x["distance"],
        "weather_condition": pd.Series(pa.nulls(len(delivered), _LS), dtype="string"),
        "attr_parcel_type": labels(x["parcel"].astype(np.int8), PARCEL_TYPES),
    }
    frame = pd.DataFrame(cols)
    return frame.astype(SHIPMENT_COLUMNS)


def events_frame(ev: dict, ids: pd.Series, net: Network, start: date) -> pd.DataFrame:
    """One row per scan event in contract columns and dtypes; `event_id` is `<shipment_id>-<k>`."""
    ship_ids = pc.take(pa.array(ids.array), pa.array(ev["shipment"]))
    k = pc.cast(pa.array(ev["k"]), _LS)
    statuses = sorted({s for s, _ in DESCRIPTIONS})
    status_code = np.array([statuses.index(s) for s, _ in DESCRIPTIONS], dtype=np.int8)[ev["code"]]
    cols = {
        "event_id": pd.Series(pc.binary_join_element_wise(ship_ids, k, pa.scalar("-", _LS)), dtype="string"),
        "shipment_id": pd.Series(ship_ids, dtype="string"),
        "occurred_at": timestamps(ev["time"], start),
        "status": labels(status_code, statuses),
        "region": labels(ev["region"], net.region_codes),
        "country": labels(net.region_country[ev["region"]].astype(np.int8), COUNTRIES),
        "description": labels(ev["code"], [text for _, text in DESCRIPTIONS]),
    }
    return pd.DataFrame(cols).astype(EVENT_COLUMNS)
