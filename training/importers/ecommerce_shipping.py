"""E-commerce shipping data (`Train.csv`) -> shipment contract, as outcome-only rows.

The data have no timestamps at all: no order, shipping, promise or delivery time. Each row only says whether
the promise was missed, so `created_at`, `promised_at` and `delivered_at` stay empty and `delivered_late` is
`Reached.on.Time_Y.N` read the way the publisher defines it: **1 = late** (not "reached on time = yes").
The contract keeps such rows as outcome-only.

- `shipment_id`: `ecom-<ID>`, an identifier only. `ID` and row order are never features: the label leaks
  through them (IDs 1–3,135 are all late), so `ID` is not copied into any `attr_*`.
- `carrier`: `ecommerce` (one unnamed seller); `service`: `Mode_of_Shipment` lower-cased (`ship`,
  `flight`, `road`).
- Countries: unknown -> ZZ; no regions, coordinates or distance.
- `weight_kg`: `Weight_in_gms` / 1000.
- Attributes known when the order is placed: `attr_warehouse_block`, `attr_customer_rating`,
  `attr_cost_usd` (`Cost_of_the_Product`), `attr_prior_purchases`, `attr_product_importance`,
  `attr_gender`, `attr_discount` (`Discount_offered`).
  `Customer_care_calls` counts the customer's enquiries *about this shipment*, made while it is in transit,
  so it is not known at creation and is not imported.

Label leak: the data look generated; every `Discount_offered` > 10 is late and the first 3,135 IDs are all
late. `attr_discount` is a genuine order attribute and is kept, but scores on this data are a smoke test only.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.contract import UNKNOWN_COUNTRY
from training.importers._parse import label, number, read_raw_csv, text


def read(path: Path) -> pd.DataFrame:
    raw = read_raw_csv(path)
    late = number(raw["Reached.on.Time_Y.N"])
    return pd.DataFrame(
        {
            "shipment_id": "ecom-" + text(raw["ID"]),
            "carrier": "ecommerce",
            "service": label(raw["Mode_of_Shipment"]),
            "origin_country": UNKNOWN_COUNTRY,
            "destination_country": UNKNOWN_COUNTRY,
            "delivered_late": late.map({1.0: True, 0.0: False}).astype("boolean"),
            "weight_kg": number(raw["Weight_in_gms"]) / 1000,
            "attr_warehouse_block": text(raw["Warehouse_block"]),
            "attr_customer_rating": number(raw["Customer_rating"]),
            "attr_cost_usd": number(raw["Cost_of_the_Product"]),
            "attr_prior_purchases": number(raw["Prior_purchases"]),
            "attr_product_importance": label(raw["Product_importance"]),
            "attr_gender": text(raw["Gender"]),
            "attr_discount": number(raw["Discount_offered"]),
        },
        index=raw.index,
    )
