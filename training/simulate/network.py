"""The simulated network: countries, regions (position, time zone, climate), services, carriers, hubs, lanes.

Everything here is a small table; `build_network` turns it into numpy arrays indexed by integer codes so that
the per-shipment simulation is pure array arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COUNTRIES = ("DE", "FR", "NL", "PL", "IT", "ES", "GB", "US")
# Customs zones: crossing between zones means a customs hold; crossing inside a zone does not (intra-EU).
CUSTOMS_ZONE = {"DE": 0, "FR": 0, "NL": 0, "PL": 0, "IT": 0, "ES": 0, "GB": 1, "US": 2}
LANE_CLASSES = ("domestic", "cross-border EU", "customs GB-EU", "intercontinental")
DOMESTIC, INTRA_EU, CUSTOMS_SHORT, INTERCONTINENTAL = range(4)

# code, country, lat, lon, time zone, demand weight, mean temp C, temp amplitude C, wet-day share, storminess
REGIONS = (
    ("BER", "DE", 52.52, 13.40, "Europe/Berlin", 3.7, 10.0, 9.5, 0.45, 0.5),
    ("HAM", "DE", 53.55, 9.99, "Europe/Berlin", 1.9, 9.5, 8.5, 0.52, 0.9),
    ("MUC", "DE", 48.14, 11.58, "Europe/Berlin", 1.5, 8.5, 9.5, 0.50, 0.4),
    ("CGN", "DE", 50.94, 6.96, "Europe/Berlin", 1.1, 10.5, 8.0, 0.50, 0.6),
    ("FRA", "DE", 50.11, 8.68, "Europe/Berlin", 0.8, 10.5, 9.0, 0.47, 0.5),
    ("PAR", "FR", 48.86, 2.35, "Europe/Paris", 4.5, 12.0, 8.0, 0.45, 0.6),
    ("LYS", "FR", 45.76, 4.84, "Europe/Paris", 1.4, 12.5, 9.5, 0.40, 0.4),
    ("MRS", "FR", 43.30, 5.37, "Europe/Paris", 1.2, 15.5, 8.5, 0.22, 0.6),
    ("LIL", "FR", 50.63, 3.06, "Europe/Paris", 1.0, 10.8, 7.5, 0.50, 0.8),
    ("TLS", "FR", 43.60, 1.44, "Europe/Paris", 0.9, 13.5, 8.5, 0.37, 0.4),
    ("AMS", "NL", 52.37, 4.90, "Europe/Amsterdam", 1.6, 10.5, 7.5, 0.55, 1.0),
    ("RTM", "NL", 51.92, 4.48, "Europe/Amsterdam", 1.2, 10.8, 7.5, 0.55, 1.0),
    ("EIN", "NL", 51.44, 5.48, "Europe/Amsterdam", 0.6, 10.6, 8.0, 0.50, 0.7),
    ("WAW", "PL", 52.23, 21.01, "Europe/Warsaw", 1.8, 8.5, 10.5, 0.45, 0.4),
    ("KRK", "PL", 50.06, 19.94, "Europe/Warsaw", 0.8, 8.7, 10.0, 0.47, 0.4),
    ("GDN", "PL", 54.35, 18.65, "Europe/Warsaw", 0.7, 8.0, 9.0, 0.47, 0.8),
    ("POZ", "PL", 52.41, 16.93, "Europe/Warsaw", 0.6, 8.8, 10.0, 0.42, 0.5),
    ("MIL", "IT", 45.46, 9.19, "Europe/Rome", 3.1, 13.5, 11.0, 0.30, 0.3),
    ("ROM", "IT", 41.90, 12.50, "Europe/Rome", 2.8, 16.0, 8.5, 0.27, 0.4),
    ("NAP", "IT", 40.85, 14.27, "Europe/Rome", 1.5, 16.5, 8.0, 0.30, 0.5),
    ("TRN", "IT", 45.07, 7.69, "Europe/Rome", 1.1, 12.5, 10.5, 0.30, 0.3),
    ("MAD", "ES", 40.42, -3.70, "Europe/Madrid", 3.3, 15.0, 10.5, 0.20, 0.3),
    ("BCN", "ES", 41.39, 2.17, "Europe/Madrid", 2.7, 16.5, 7.5, 0.22, 0.5),
    ("VLC", "ES", 39.47, -0.38, "Europe/Madrid", 1.0, 18.0, 7.0, 0.18, 0.5),
    ("SVQ", "ES", 37.39, -5.98, "Europe/Madrid", 0.8, 19.0, 8.5, 0.17, 0.2),
    ("LON", "GB", 51.51, -0.13, "Europe/London", 4.5, 11.5, 7.0, 0.45, 0.7),
    ("MAN", "GB", 53.48, -2.24, "Europe/London", 1.4, 10.0, 6.5, 0.55, 0.8),
    ("BHX", "GB", 52.49, -1.89, "Europe/London", 1.3, 10.0, 7.0, 0.50, 0.6),
    ("GLA", "GB", 55.86, -4.25, "Europe/London", 0.9, 9.0, 6.0, 0.60, 1.0),
    ("NYC", "US", 40.71, -74.01, "America/New_York", 4.0, 13.0, 12.0, 0.33, 0.8),
    ("CHI", "US", 41.88, -87.63, "America/Chicago", 2.4, 10.5, 14.0, 0.33, 0.7),
    ("ATL", "US", 33.75, -84.39, "America/New_York", 1.6, 17.0, 9.5, 0.30, 0.6),
    ("DFW", "US", 32.78, -96.80, "America/Chicago", 1.9, 19.5, 10.0, 0.22, 0.6),
    ("DEN", "US", 39.74, -104.99, "America/Denver", 0.9, 10.5, 12.0, 0.22, 0.6),
    ("LAX", "US", 34.05, -118.24, "America/Los_Angeles", 3.0, 18.5, 4.0, 0.10, 0.1),
)

SERVICES = ("express", "ground", "economy", "freight")
EXPRESS, GROUND, ECONOMY, FREIGHT = range(4)
BASE_H = np.array([5.0, 6.0, 20.0, 16.0])  # fixed sort/handling hours of the line haul
ROAD_KMH = np.array([100.0, 70.0, 35.0, 40.0])  # effective line-haul speed over the great-circle distance
AIR_KMH = np.array([500.0, np.nan, 160.0, np.nan])  # intercontinental (by air): express and economy only
PUBLISHED_DAYS = np.array([1, 1, 3, 2])  # published business days for a short domestic lane
PUBLISHED_KM = np.array([1500.0, 600.0, 700.0, 600.0])  # one more published day per this many km
DELIVERY_SPREAD_H = np.array([3.5, 9.0, 9.5, 7.0])  # delivered within this many hours after out-for-delivery
CUSTOMS_MEDIAN_H = np.array([8.0, 22.0, 30.0, 26.0])
# which services a lane class offers (rows: lane class, columns: service)
SERVICE_ALLOWED = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 0, 1, 0]], dtype=bool)
BORDER_H = np.array([0.0, 12.0, 18.0, 24.0])  # hand-over between networks (intercontinental: gateway)
PUBLISHED_BORDER_DAYS = np.array([0, 1, 2, 1])


@dataclass(frozen=True)
class Carrier:
    code: str
    speed: float  # multiplier on line-haul hours (lower is faster)
    sigma: float  # log-normal noise of line-haul hours
    tail_p: float  # probability of a long tail delay (missort, lost in a hub)
    saturday: bool  # delivers on Saturdays (never on Sundays; freight never on Saturdays)
    cutoff_h: float  # local cut-off hour for same-day pickup
    peak_sens: float  # congestion hours per day of excess network load
    fail_p: float  # share of first delivery attempts that fail
    share: float  # market share where it operates
    mix: tuple[float, float, float, float]  # service mix: express, ground, economy, freight
    hubs: tuple[str, ...]  # hub regions; the carrier serves the countries of its hubs


CARRIERS = (
    Carrier("northwind", 0.85, 0.15, 0.010, True, 18.0, 0.5, 0.03, 1.2, (0.45, 0.35, 0.10, 0.10),
            ("FRA", "CGN", "PAR", "AMS", "WAW", "MIL", "MAD", "LON", "NYC", "CHI", "DFW", "LAX")),
    Carrier("bluebox", 1.00, 0.22, 0.020, True, 17.0, 0.9, 0.05, 1.3, (0.15, 0.60, 0.20, 0.05),
            ("HAM", "FRA", "LIL", "LYS", "RTM", "POZ", "MIL", "BCN", "BHX")),
    Carrier("rapido", 0.90, 0.18, 0.015, False, 16.0, 0.7, 0.04, 0.9, (0.60, 0.30, 0.10, 0.00),
            ("CGN", "PAR", "EIN", "WAW", "MIL", "MAD", "LON", "NYC", "ATL")),
    Carrier("parcelo", 1.15, 0.35, 0.050, False, 15.0, 1.6, 0.08, 1.0, (0.05, 0.40, 0.55, 0.00),
            ("BER", "MUC", "PAR", "MRS", "AMS", "KRK", "ROM", "VLC")),
    Carrier("atlas", 1.05, 0.25, 0.030, False, 14.0, 1.0, 0.04, 0.6, (0.10, 0.30, 0.10, 0.50),
            ("FRA", "LYS", "RTM", "POZ", "TRN", "MAD", "MAN", "CHI", "DFW")),
    Carrier("postal", 1.10, 0.28, 0.030, True, 17.0, 1.3, 0.07, 1.4, (0.20, 0.50, 0.30, 0.00),
            ("BER", "HAM", "MUC", "PAR", "TLS", "AMS", "WAW", "GDN", "ROM", "NAP", "MAD", "SVQ", "LON", "GLA",
             "NYC", "ATL", "DEN", "LAX")),
)  # fmt: skip


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km (inputs in degrees, broadcastable)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True)
class Network:
    region_codes: tuple[str, ...]
    region_country: np.ndarray  # [region] country index
    lat: np.ndarray
    lon: np.ndarray
    tz: tuple[str, ...]
    weight: np.ndarray
    climate: np.ndarray  # [region, 4]: mean temp, amplitude, wet-day share, storminess
    dist_km: np.ndarray  # [region, region]
    lane_class: np.ndarray  # [region, region]
    serves: np.ndarray  # [carrier, country] bool
    hub_of: np.ndarray  # [carrier, region] -> hub region serving that region
    mid_hub: np.ndarray  # [carrier, origin region, destination region] -> intermediate hub or -1
    carriers: tuple[Carrier, ...]

    @property
    def n_regions(self) -> int:
        return len(self.region_codes)

    def carrier_attr(self, name: str) -> np.ndarray:
        return np.array([getattr(c, name) for c in self.carriers], dtype=float)


def _lane_classes(country: np.ndarray) -> np.ndarray:
    zone = np.array([CUSTOMS_ZONE[c] for c in COUNTRIES])[country]
    same_country = country[:, None] == country[None, :]
    same_zone = zone[:, None] == zone[None, :]
    us = COUNTRIES.index("US")
    touches_us = (country[:, None] == us) | (country[None, :] == us)
    out = np.where(same_zone, INTRA_EU, np.where(touches_us, INTERCONTINENTAL, CUSTOMS_SHORT))
    return np.where(same_country, DOMESTIC, out)


def _hub_tables(country: np.ndarray, dist: np.ndarray, carriers: tuple[Carrier, ...], codes: list[str]):
    """Nearest hub (same country first) per carrier and region; a detour hub between two hubs where useful."""
    n_c, n_r = len(carriers), len(codes)
    hub_of = np.zeros((n_c, n_r), dtype=np.int16)
    mid_hub = np.full((n_c, n_r, n_r), -1, dtype=np.int16)
    serves = np.zeros((n_c, len(COUNTRIES)), dtype=bool)
    for ci, carrier in enumerate(carriers):
        hubs = np.array([codes.index(h) for h in carrier.hubs])
        serves[ci, country[hubs]] = True
        penalty = np.where(country[None, :] == country[hubs][:, None], 0.0, 1e5)  # [hub, region]
        hub_of[ci] = hubs[np.argmin(dist[hubs] + penalty, axis=0)]
        oh, dh = hub_of[ci][:, None], hub_of[ci][None, :]
        via = dist[oh, hubs[:, None, None]] + dist[hubs[:, None, None], dh]  # [hub, o, d]
        via = np.where((hubs[:, None, None] == oh) | (hubs[:, None, None] == dh), np.inf, via)
        best = np.argmin(via, axis=0)
        ok = (np.min(via, axis=0) <= 1.25 * dist[oh, dh]) & (dist[oh, dh] > 600)
        mid_hub[ci] = np.where(ok, hubs[best], -1)
    return serves, hub_of, mid_hub


def build_network() -> Network:
    codes = [r[0] for r in REGIONS]
    country = np.array([COUNTRIES.index(r[1]) for r in REGIONS])
    lat = np.array([r[2] for r in REGIONS])
    lon = np.array([r[3] for r in REGIONS])
    dist = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    serves, hub_of, mid_hub = _hub_tables(country, dist, CARRIERS, codes)
    return Network(
        region_codes=tuple(codes),
        region_country=country,
        lat=lat,
        lon=lon,
        tz=tuple(r[4] for r in REGIONS),
        weight=np.array([r[5] for r in REGIONS]),
        climate=np.array([r[6:10] for r in REGIONS]),
        dist_km=dist,
        lane_class=_lane_classes(country),
        serves=serves,
        hub_of=hub_of,
        mid_hub=mid_hub,
        carriers=CARRIERS,
    )
