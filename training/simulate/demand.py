"""Demand: when orders are placed, on which lanes, with which carrier and service, and what is shipped.

Every function returns plain numpy arrays (one value per shipment) keyed by name.
"""

from __future__ import annotations

import numpy as np

from training.simulate.calendar import Calendar
from training.simulate.network import COUNTRIES, CUSTOMS_ZONE, SERVICE_ALLOWED, Network, haversine_km

WEEKDAY_VOLUME = np.array([1.15, 1.12, 1.08, 1.04, 0.96, 0.62, 0.55])
# local order hour: business hours plus an evening e-commerce peak
HOUR_VOLUME = np.array([
    0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.5, 3.5, 4.2, 4.5,
    4.3, 4.2, 4.3, 4.2, 4.0, 3.6, 3.2, 3.4, 3.6, 3.0, 1.8, 0.8,
])  # fmt: skip
# destination mix by origin customs zone: same country, other country of the zone, then per other zone
DEST_SHARE = {
    0: {"domestic": 0.62, "zone": 0.25, 1: 0.07, 2: 0.06},
    1: {"domestic": 0.62, "zone": 0.0, 0: 0.30, 2: 0.08},
    2: {"domestic": 0.85, "zone": 0.0, 0: 0.10, 1: 0.05},
}
WEIGHT_MEDIAN_KG = np.array([1.0, 2.5, 1.5, 180.0])
WEIGHT_SIGMA = np.array([0.9, 0.9, 0.8, 0.7])
WEIGHT_MAX_KG = np.array([30.0, 31.5, 20.0, 1000.0])
PARCEL_TYPES = ("envelope", "small_parcel", "parcel", "pallet")


def peak_factor(calendar: Calendar, n_days: int, strength: float) -> np.ndarray:
    """Order volume multiplier per day: ramp Nov 1 to mid-December, Black Friday weekend, quiet Christmas."""
    dates = calendar.dates(n_days)
    month, dom = dates.month.to_numpy(), dates.day.to_numpy()
    s = np.where(month == 11, dom - 1, np.where(month == 12, dom + 29, -1))  # day of the Nov-Dec season
    phases = [(s >= 0) & (s <= 43), (s > 43) & (s <= 51), s > 51]
    ramp = np.select(phases, [0.9 * s / 43, 0.9 - 0.1 * (s - 43), -0.3])
    ramp = np.where((month == 1) & (dom == 1), -0.3, ramp)
    black_friday = (month == 11) & (calendar.weekday[:n_days] == 4) & (dom >= 23) & (dom <= 29)
    cyber = black_friday.copy()
    for lag in (1, 2, 3):  # Black Friday to Cyber Monday
        cyber[lag:] |= black_friday[:-lag]
    return (1 + strength * ramp) * np.where(cyber, 1 + 0.5 * strength, 1.0)


def day_volume(calendar: Calendar, n_days: int, peak_strength: float, growth: float) -> np.ndarray:
    trend = 1 + growth * np.arange(n_days) / 365.25
    return WEEKDAY_VOLUME[calendar.weekday[:n_days]] * peak_factor(calendar, n_days, peak_strength) * trend


def sample_rows(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per element of `rows` from `probs[row]` (rows of probabilities summing to 1)."""
    cum = np.cumsum(probs, axis=-1)
    u = rng.random(len(rows))
    out = (cum[rows] < u[:, None]).sum(axis=1)
    return np.minimum(out, probs.shape[-1] - 1)


def destination_probs(network: Network) -> np.ndarray:
    """[origin, destination] probabilities: share of each destination group, split by demand weight."""
    zone = np.array([CUSTOMS_ZONE[c] for c in COUNTRIES])[network.region_country]
    country = network.region_country
    probs = np.zeros((network.n_regions, network.n_regions))
    for o in range(network.n_regions):
        shares = DEST_SHARE[int(zone[o])]
        groups: dict[str | int, np.ndarray] = {"domestic": country == country[o]}
        groups["zone"] = (zone == zone[o]) & (country != country[o])
        groups |= {z: zone == z for z in shares if isinstance(z, int)}
        for key, mask in groups.items():
            if mask.any():
                probs[o, mask] += shares[key] * network.weight[mask] / network.weight[mask].sum()
    return probs / probs.sum(axis=1, keepdims=True)


def _normalise(p: np.ndarray) -> np.ndarray:
    total = p.sum(axis=-1, keepdims=True)
    return np.divide(p, total, out=np.zeros_like(p), where=total > 0)


def sample_orders(rng: np.random.Generator, network: Network, calendar: Calendar, cfg) -> dict:
    """Lane, carrier, service, order time (UTC hours) and parcel of each shipment, sorted by creation time."""
    n = cfg.n_shipments
    origin = rng.choice(network.n_regions, size=n, p=network.weight / network.weight.sum())
    dest = sample_rows(rng, destination_probs(network), origin)
    oc, dc = network.region_country[origin], network.region_country[dest]
    serves = network.serves
    share = network.carrier_attr("share")[:, None, None] * serves[:, :, None] * serves[:, None, :]
    carrier_p = _normalise(np.moveaxis(share, 0, -1).reshape(len(COUNTRIES) ** 2, -1))
    carrier = sample_rows(rng, carrier_p, oc * len(COUNTRIES) + dc)
    lane = network.lane_class[origin, dest]
    mix = np.array([c.mix for c in network.carriers])[:, None, :] * SERVICE_ALLOWED[None, :, :]
    service = sample_rows(rng, _normalise(mix).reshape(-1, mix.shape[-1]), carrier * mix.shape[1] + lane)
    vol = day_volume(calendar, cfg.days, cfg.peak_strength, cfg.growth)
    day = rng.choice(cfg.days, size=n, p=vol / vol.sum())
    hour = rng.choice(24, size=n, p=HOUR_VOLUME / HOUR_VOLUME.sum()) + rng.random(n)
    created = calendar.to_utc(day, hour, origin)
    day = day - 7 * (created >= cfg.days * 24.0) + 7 * (created < 0)  # keep every order inside the period
    created = calendar.to_utc(day, hour, origin)
    orders = {"origin": origin, "dest": dest, "carrier": carrier, "service": service, "lane": lane}
    orders |= {"created": created, "created_day": day, "created_hour": hour}
    orders |= _parcels(rng, network, origin, dest, service)
    order = np.argsort(created, kind="stable")
    return {k: v[order] for k, v in orders.items()}


def _parcels(rng: np.random.Generator, network: Network, origin, dest, service) -> dict[str, np.ndarray]:
    n = len(origin)
    weight = WEIGHT_MEDIAN_KG[service] * np.exp(WEIGHT_SIGMA[service] * rng.standard_normal(n))
    weight = np.round(np.clip(weight, 0.05, WEIGHT_MAX_KG[service]), 2)
    parcel = np.where(service == 3, 3, np.searchsorted([0.5, 5.0], weight, side="right"))
    o_lat = network.lat[origin] + rng.normal(0, 0.12, n)
    o_lon = network.lon[origin] + rng.normal(0, 0.18, n)
    d_lat = network.lat[dest] + rng.normal(0, 0.12, n)
    d_lon = network.lon[dest] + rng.normal(0, 0.18, n)
    dist = np.maximum(haversine_km(o_lat, o_lon, d_lat, d_lon), 2.0)
    coords = {"o_lat": o_lat, "o_lon": o_lon, "d_lat": d_lat, "d_lon": d_lon}
    return {"weight": weight, "parcel": parcel, "distance": np.round(dist, 1), **coords}
