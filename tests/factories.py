"""Small synthetic shipment frames for fast tests (the simulator has its own tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import validate_shipments


def make_shipments(n: int = 2000, seed: int = 0, days: int = 360, **overrides: object) -> pd.DataFrame:
    """Contract shipments with a learnable signal: GB slower, express faster, carrier `slow` slower."""
    rng = np.random.default_rng(seed)
    created = (
        pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, days * 24, n), unit="h")
    ).floor("s")
    carrier = rng.choice(["fast", "mid", "slow"], n)
    service = rng.choice(["standard", "express"], n)
    dest = rng.choice(["DE", "FR", "GB"], n)
    median = 48 * np.where(dest == "GB", 1.8, 1.0) * np.where(service == "express", 0.6, 1.0)
    median *= np.select([carrier == "fast", carrier == "slow"], [0.8, 1.4], 1.0)
    hours = rng.lognormal(np.log(median), 0.35)
    frame = pd.DataFrame(
        {
            "shipment_id": [f"s{seed}-{i}" for i in range(n)],
            "carrier": carrier,
            "service": service,
            "origin_country": "DE",
            "destination_country": dest,
            "origin_region": rng.choice(["BE", "HH", "BY"], n),
            "destination_region": rng.choice(["A", "B", "C", "D"], n),
            "created_at": created,
            "promised_at": created + pd.to_timedelta(72, unit="h"),
            "delivered_at": created + pd.to_timedelta(hours, unit="h"),
            "weight_kg": rng.uniform(0.1, 20, n),
            "attr_parcel": rng.choice(["box", "letter"], n),
        }
    )
    for key, value in overrides.items():
        frame[key] = value
    return validate_shipments(frame.sort_values("created_at", ignore_index=True)).valid
