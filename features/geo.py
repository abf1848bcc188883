"""Places: great-circle distance, cross-border and customs flags, each country's time zone."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

EARTH_RADIUS_KM = 6371.0088

# EU customs union (plus the micro-states inside it): no customs formalities between these.
CUSTOMS_UNION = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
        "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "MC", "SM",
    }
)  # fmt: skip


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km; NaN where any coordinate is missing."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(np.maximum(a, 0.0), 1.0)))  # clip, cheaply


def crosses_customs(
    origin: Sequence[str] | np.ndarray, destination: Sequence[str] | np.ndarray
) -> np.ndarray:
    """Cross-border shipments that are not both inside the customs union (unknown countries: not known)."""
    pairs = zip(origin, destination, strict=True)
    return np.fromiter(
        (o != d and "ZZ" not in (o, d) and not (o in CUSTOMS_UNION and d in CUSTOMS_UNION) for o, d in pairs),
        dtype=bool,
        count=len(origin),
    )


@cache
def _zone_table() -> dict[str, str]:
    """Country code -> its first (most populous) IANA zone, from the system's zone.tab."""
    for root in zoneinfo.TZPATH:
        path = Path(root) / "zone.tab"
        if path.exists():
            table: dict[str, str] = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                if line and not line.startswith("#"):
                    code, _coords, zone = line.split("\t")[:3]
                    table.setdefault(code, zone)
            return table
    return {}


def country_timezone(country: str) -> str:
    """IANA time zone used for a country's local dates; UTC when the country is unknown."""
    return _zone_table().get(country, "UTC")
