"""Scan events as arrays: a fixed set of slots per shipment, sorted by time per row, then flattened.

Each slot is (time or NaN when the shipment has no such scan, description code, region). Events after the
end of the period are dropped, so in-flight shipments stop at their last scan before the end.
"""

from __future__ import annotations

import numpy as np

# description code -> (canonical status, description)
DESCRIPTIONS = (
    ("label_created", "Shipment information received"),
    ("picked_up", "Picked up by courier"),
    ("arrived_at_facility", "Arrived at sort facility"),
    ("departed_facility", "Departed sort facility"),
    ("in_transit", "In transit to next facility"),
    ("customs_hold", "Held for customs clearance"),
    ("customs_cleared", "Cleared customs"),
    ("exception", "Delay: severe weather"),
    ("exception", "Delay: hub backlog"),
    ("exception", "Exception: parcel missorted, rerouted"),
    ("exception", "Exception: address query, awaiting recipient information"),
    ("arrived_at_facility", "Arrived at delivery station"),
    ("out_for_delivery", "Out for delivery"),
    ("delivery_attempted", "Delivery attempted, recipient not available"),
    ("delivered", "Delivered"),
    ("returned", "Returned to sender"),
)
(
    LABEL, PICKED_UP, ARRIVED, DEPARTED, IN_TRANSIT, HOLD, CLEARED, EXC_WEATHER, EXC_BACKLOG, EXC_MISSORT,
    EXC_ADDRESS, AT_STATION, OUT_FOR_DELIVERY, ATTEMPTED, DELIVERED, RETURNED,
) = range(len(DESCRIPTIONS))  # fmt: skip


def exception_codes(rng: np.random.Generator, x: dict) -> np.ndarray:
    """Which exception (if any) a shipment's scans show: most long delays get one, a few others too."""
    n = len(x["created"])
    u = rng.random((4, n))
    code = np.where(u[3] < 0.005, EXC_ADDRESS, 0)
    code = np.where((x["weather_h"] > 12) & (u[2] < 0.5), EXC_WEATHER, code)
    code = np.where((x["backlog_h"] > 12) & (u[1] < 0.5), EXC_BACKLOG, code)
    return np.where((x["tail_h"] > 0) & (u[0] < 0.7), EXC_MISSORT, code)


def _only(mask: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.where(mask, t, np.nan)


def slots(rng: np.random.Generator, x: dict) -> list[tuple[np.ndarray, np.ndarray | int, np.ndarray]]:
    n, created, shipped = len(x["created"]), x["created"], x["shipped"]
    net_haul = x["arrival"] - shipped - x["customs_h"]  # line haul without the customs hold

    def along(lo: float, hi: float) -> np.ndarray:
        return shipped + net_haul * rng.uniform(lo, hi, n)

    o, d, oh, dh, mid = x["origin"], x["dest"], x["origin_hub"], x["dest_hub"], x["mid_hub"]
    two_hubs, has_mid, customs = dh != oh, mid >= 0, x["customs_h"] > 0
    long_haul = x["distance"] > 1000
    hold = along(0.62, 0.70)
    exc = exception_codes(rng, x)
    return [
        (created + np.minimum(rng.uniform(0.02, 0.5, n), 0.5 * (shipped - created)), LABEL, o),
        (shipped, PICKED_UP, o),
        (along(0.04, 0.10), ARRIVED, oh),
        (along(0.12, 0.20), DEPARTED, oh),
        (_only(two_hubs, along(0.25, 0.35)), IN_TRANSIT, oh),
        (_only(has_mid, along(0.40, 0.48)), ARRIVED, mid),
        (_only(has_mid, along(0.50, 0.58)), DEPARTED, mid),
        (_only(long_haul, along(0.72, 0.80)), IN_TRANSIT, np.where(has_mid, mid, dh)),
        (_only(customs, hold), HOLD, dh),
        (_only(customs, hold + x["customs_h"]), CLEARED, dh),
        (_only(exc > 0, along(0.20, 0.60)), exc, oh),
        (_only(two_hubs, x["arrival"]), ARRIVED, dh),
        (_only(two_hubs, x["arrival"] + (x["ofd1"] - x["arrival"]) * rng.uniform(0.3, 0.7, n)), DEPARTED, dh),
        (x["arrival"] + (x["ofd1"] - x["arrival"]) * rng.uniform(0.75, 0.95, n), AT_STATION, d),
        (x["ofd1"], OUT_FOR_DELIVERY, d),
        (_only(x["fail1"], x["end1"]), ATTEMPTED, d),
        (_only(x["fail1"], x["ofd2"]), OUT_FOR_DELIVERY, d),
        (_only(x["fail2"], x["end2"]), ATTEMPTED, d),
        (x["delivered"], DELIVERED, d),
        (x["returned"], RETURNED, dh),
    ]


def build_events(rng: np.random.Generator, x: dict, end_h: float) -> dict[str, np.ndarray]:
    """Flat event arrays ordered by shipment, then time: shipment index, k (from 1), time, code, region."""
    parts = slots(rng, x)
    n, width = len(x["created"]), len(parts)
    times = np.empty((n, width))
    codes = np.empty((n, width), dtype=np.int8)
    regions = np.empty((n, width), dtype=np.int16)
    for j, (t, code, region) in enumerate(parts):
        times[:, j] = t
        codes[:, j] = code
        regions[:, j] = region
    times[times > end_h] = np.nan
    order = np.argsort(times, axis=1, kind="stable")  # NaN (no scan) sorts last
    times = np.take_along_axis(times, order, axis=1)
    keep = ~np.isnan(times)
    counts = keep.sum(axis=1)
    shipment = np.repeat(np.arange(n), counts)
    k = np.arange(len(shipment)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    return {
        "shipment": shipment,
        "k": k,
        "time": times[keep],
        "code": np.take_along_axis(codes, order, axis=1)[keep],
        "region": np.take_along_axis(regions, order, axis=1)[keep],
    }
