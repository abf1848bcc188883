"""Amazon last-mile deliveries (`amazon_delivery.csv`, a relabelled Indian food-delivery set) -> contract.

Timestamps: `Order_Date` with `Order_Time` / `Pickup_Time` are local wall-clock times in India, converted
from Asia/Kolkata (UTC+05:30) to UTC.
- `created_at`: `Order_Date` + `Order_Time` (the order is placed).
- `shipped_at`: `Order_Date` + `Pickup_Time` (the agent picks the parcel up at the store, 5–15 minutes after
  the order); a pickup clock time earlier than the order time means it rolled past midnight: next day.
- `delivered_at`: `created_at` + `Delivery_Time` minutes.
- No promise (`promised_at` empty), so no `delivered_late`: the target here is the duration itself.
  `Order_Time` missing (the literal `NaN`) leaves `created_at` empty and the contract rejects the row.

Parties and places: one operator, so `carrier` = `amazon` and `service` = `Vehicle` (`motorcycle`, `scooter`,
`van`, `bicycle`). Both countries IN; no regions in the data. Origin = store, destination = drop point.
`distance_km` is left empty: the features compute the great-circle distance from the coordinates.

Attributes known when the order is placed: `weather_condition` = `Weather`; `attr_traffic`, `attr_area`,
`attr_agent_age`, `attr_agent_rating`, `attr_category`.

Traps:
- Missing values are the literal string `NaN` (sometimes `NaN ` with a space) -> null; no `NaN` text is kept.
- Labels carry trailing spaces (`"High "`, `"motorcycle "`) -> stripped and lower-cased; the misspelt
  `Metropolitian` -> `metropolitan`.
- Store coordinates: ~3,000 stores are (0, 0), and their drop points are (0 + offset, 0 + offset): both
  are set to null. ~200 stores have a negative latitude or longitude. India lies entirely north and east of
  (0, 0), so a negative value can only be a lost sign, and the drop point confirms it: the drop is
  |store| + the same quantised offset (0.01–0.11°) as for every valid row. Those take the absolute value.
  Any coordinate still outside India's bounding box is then set to null (both lat and lon).
  The drop points are store + a quantised offset: coordinates are semi-synthetic, distances approximate.
- `Agent_Rating` is a 1–5 score; values outside (47 rows of 6.0) -> null.
- CRLF line endings: read newline-agnostically.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.importers._parse import INDIA_BBOX, label, localize, number, read_raw_csv, text, within

TZ = "Asia/Kolkata"
MISSING = ("NaN",)
AREAS = {"metropolitian": "metropolitan"}


def _coords(raw: pd.DataFrame, prefix: str) -> tuple[pd.Series, pd.Series]:
    lat, lon = number(raw[f"{prefix}_Latitude"]).abs(), number(raw[f"{prefix}_Longitude"]).abs()
    return within(lat, lon, INDIA_BBOX)


def read(path: Path) -> pd.DataFrame:
    raw = read_raw_csv(path)
    day = pd.to_datetime(text(raw["Order_Date"], MISSING), format="%Y-%m-%d", errors="coerce")
    ordered = pd.to_timedelta(text(raw["Order_Time"], MISSING), errors="coerce")
    picked = pd.to_timedelta(text(raw["Pickup_Time"], MISSING), errors="coerce")
    picked = picked.mask(picked < ordered, picked + pd.Timedelta(days=1))
    created = localize(day + ordered, TZ)
    store_lat, store_lon = _coords(raw, "Store")
    drop_lat, drop_lon = _coords(raw, "Drop")
    rating = number(raw["Agent_Rating"])
    return pd.DataFrame(
        {
            "shipment_id": "amzn-" + text(raw["Order_ID"], MISSING),
            "carrier": "amazon",
            "service": label(raw["Vehicle"], MISSING),
            "origin_country": "IN",
            "destination_country": "IN",
            "origin_lat": store_lat,
            "origin_lon": store_lon,
            "destination_lat": drop_lat,
            "destination_lon": drop_lon,
            "created_at": created,
            "shipped_at": localize(day + picked, TZ),
            "delivered_at": created + pd.to_timedelta(number(raw["Delivery_Time"]), unit="min"),
            "weather_condition": label(raw["Weather"], MISSING),
            "attr_traffic": label(raw["Traffic"], MISSING),
            "attr_area": label(raw["Area"], MISSING).replace(AREAS),
            "attr_agent_age": number(raw["Agent_Age"]),
            "attr_agent_rating": rating.where(rating.between(1, 5)),
            "attr_category": label(raw["Category"], MISSING),
        },
        index=raw.index,
    )
