"""Indian full-truckload trips (`vts_data_280820_noPII.csv`, a vehicle-tracking export) -> shipment contract.

Timestamps are local wall-clock times in India, converted from Asia/Kolkata (UTC+05:30) to UTC. They mix
`YYYY-mm-dd HH:MM:SS` with `.fff` / `.ffffff` fractions (parsed as ISO 8601); time-only cells and the Excel
epoch 1899-12-30 (a time without a date) are missing.
- `created_at`: `BookingID_Date` (the booking is made).
- `shipped_at`: `trip_start_date`. In ~160 rows the trip start is stamped seconds to minutes *before* the
  booking (median under a minute: the two records are written by different systems). Within a tolerance of
  one hour the start is taken to be the booking moment; larger gaps are left for the contract to reject.
- `promised_at`: `Planned_ETA`.
- `delivered_at`: `actual_eta`, the dataset's own arrival, against which its `ontime`=G / `delay`=R flags are
  set (they agree with `actual_eta` vs `Planned_ETA` on all but a few dozen rows). Caveat, checked in the
  data: `actual_eta` is written by the tracker. In rows where it has sub-second precision it is always after
  the last GPS ping (`Data_Ping_time`), and it is more than a day after `trip_end_date` in ~28% of rows
  (trackers left running after the trip ended), so trip durations from it have a long right tail.
  `trip_end_date` (empty in 44 rows, before the trip start in 42) is no cleaner alternative and is not used.
  An `actual_eta` after the export itself (the last `Data_Ping_time` in the file) is a forecast, not an
  arrival: that trip was still in flight, so `delivered_at` is left empty.
  An arrival sooner after the booking than a truck can drive the route (above 80 km/h on average, the legal
  limit for goods vehicles on Indian expressways, over `TRANSPORTATION_DISTANCE_IN_KM`, or the straight line
  between the coordinates where that is missing) is not an arrival either: the tracker closed the trip at or
  just after its booking (110 km "delivered" in 7 minutes). 115 rows: 42 of the `VCV…` bookings that begin
  in August 2020, the rest spread over both years. They are rejected with "arrival faster than a truck can
  drive the route".
- `delivered_late`: from the flags where exactly one of `ontime`=G / `delay`=R is set (R -> late); rows with
  both or neither flag get no flag. The contract re-derives it from the timestamps wherever both
  `promised_at` and `delivered_at` exist, so the flag only matters for trips without an arrival time.

Parties and places:
- `carrier`: `supplierNameCode` (278 hauliers; `Unknown` as written). `service`: `truck`; the
  `Market/Regular ` column (trailing space in its name) becomes `attr_market_regular`.
- Countries: IN. Coordinates: `Org_lat_lon` / `Des_lat_lon` `"lat,lon"` strings, parsed to floats and kept
  only inside India's bounding box. `Current_Location` / `Curr_lat` / `Curr_lon` are a GPS ping of the truck
  during the trip, not the destination, and are not used.
- Regions: the city/district part of `Origin_Location` / `Destination_Location` (`"place, district, state"`:
  the part before the state; a trailing `India` and postcodes are dropped), title-cased. The location
  codes become `attr_origin_code` / `attr_destination_code`.
- `distance_km`: `TRANSPORTATION_DISTANCE_IN_KM`; 0 or empty -> null (the features use the coordinates).
- Attributes known at booking: `attr_vehicle_type` (empty in ~180 rows -> null; `24 | 26 FT` written as
  `24 / 26 FT`), `attr_customer`, `attr_min_km_per_day`.

Repeated `BookingID`s are one truck carrying several customers' consignments: the contract keeps the first
row and rejects the rest as a duplicate `shipment_id`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from features.geo import haversine_km
from training.importers._parse import (
    INDIA_BBOX,
    label,
    lat_lon_pair,
    local_times_utc,
    number,
    read_raw_csv,
    reject,
    text,
    within,
)

TZ = "Asia/Kolkata"
CLOCK_SKEW = pd.Timedelta(hours=1)
MAX_TRUCK_KMH = 80.0
TOO_FAST = "arrival faster than a truck can drive the route"


def city(location: pd.Series) -> pd.Series:
    """`"place, district, state[, India]"` -> the district (or the only named part), title-cased."""

    def pick(value: str) -> str | None:
        names = [n.strip() for n in re.sub(r"\s*\d{6}\b", "", value).split(",")]
        names = [n for n in names if n and n.lower() != "india"]
        return names[-2] if len(names) >= 2 else (names[0] if names else None)

    return text(text(location).map(pick, na_action="ignore").astype("string")).str.title()


def read(path: Path) -> pd.DataFrame:
    raw = read_raw_csv(path)
    times = {
        col: local_times_utc(raw[col], TZ) for col in ("BookingID_Date", "trip_start_date", "Planned_ETA")
    }
    created, started = times["BookingID_Date"], times["trip_start_date"]
    started = started.mask((started < created) & (started >= created - CLOCK_SKEW), created)
    arrived = local_times_utc(raw["actual_eta"], TZ)
    exported = local_times_utc(raw["Data_Ping_time"], TZ).max()
    arrived = arrived.mask(arrived > exported)
    on_time, delayed = label(raw["ontime"]).eq("g").fillna(False), label(raw["delay"]).eq("r").fillna(False)
    flag = (
        pd.Series(pd.NA, index=raw.index, dtype="boolean")
        .mask(on_time & ~delayed, False)
        .mask(delayed & ~on_time, True)
    )
    org_lat, org_lon = within(*lat_lon_pair(raw["Org_lat_lon"]), INDIA_BBOX)
    des_lat, des_lon = within(*lat_lon_pair(raw["Des_lat_lon"]), INDIA_BBOX)
    distance = number(raw["TRANSPORTATION_DISTANCE_IN_KM"])
    distance = distance.where(distance > 0)
    coords = (c.to_numpy(dtype=float, na_value=np.nan) for c in (org_lat, org_lon, des_lat, des_lon))
    route_km = distance.fillna(pd.Series(haversine_km(*coords), index=raw.index))
    hours = (arrived - created).dt.total_seconds() / 3600
    out = pd.DataFrame(
        {
            "shipment_id": "truck-" + text(raw["BookingID"]),
            "carrier": text(raw["supplierNameCode"]),
            "service": "truck",
            "origin_country": "IN",
            "destination_country": "IN",
            "origin_region": city(raw["Origin_Location"]),
            "destination_region": city(raw["Destination_Location"]),
            "origin_lat": org_lat,
            "origin_lon": org_lon,
            "destination_lat": des_lat,
            "destination_lon": des_lon,
            "created_at": created,
            "shipped_at": started,
            "promised_at": times["Planned_ETA"],
            "delivered_at": arrived,
            "delivered_late": flag,
            "distance_km": distance,
            "attr_market_regular": label(raw["Market/Regular "]),
            "attr_vehicle_type": text(raw["vehicleType"])
            .str.replace("|", "/")
            .str.replace(r"\s+", " ", regex=True),
            "attr_customer": text(raw["customerNameCode"]),
            "attr_origin_code": text(raw["OriginLocation_Code"]),
            "attr_destination_code": text(raw["DestinationLocation_Code"]),
            "attr_min_km_per_day": number(raw["Minimum_kms_to_be_covered_in_a_day"]),
        },
        index=raw.index,
    )
    reject(out, (hours >= 0) & (route_km > MAX_TRUCK_KMH * hours), TOO_FAST)  # before booking: the contract's
    return out
