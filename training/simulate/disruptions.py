"""Disruptions the naive promise ignores: peak-season congestion, carrier hub backlogs and severe weather."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.simulate.calendar import Calendar
from training.simulate.network import COUNTRIES, Network

# congestion hours per unit of excess network load (load = trailing 7-day pickups / their median), by service
SERVICE_PEAK = np.array([0.6, 1.0, 1.3, 0.8])
LOAD_FREE = 1.1  # no congestion below this load
# extra hours per severe-weather day at the origin (pickup day and the next), a transit hub, the destination
WEATHER_H = {"origin": 14.0, "hub": 10.0, "destination": 18.0}


@dataclass(frozen=True)
class Backlogs:
    hours: np.ndarray  # [carrier, region, day] extra hours for a shipment passing the carrier's hub there
    episodes: pd.DataFrame  # per episode: carrier, region, country, start, end (exclusive), extra_hours


def simulate_backlogs(rng: np.random.Generator, network: Network, calendar: Calendar, per_year: float):
    """Episodes where one carrier's hub is backed up for 3-10 days, adding 18-60 hours to what passes it."""
    hours = np.zeros((len(network.carriers), network.n_regions, calendar.n_days))
    rows = []
    for ci, carrier in enumerate(network.carriers):
        n = rng.poisson(per_year * calendar.n_days / 365.25)
        hubs = rng.choice([network.region_codes.index(h) for h in carrier.hubs], size=n)
        starts = rng.integers(0, calendar.n_days, n)
        lengths = rng.integers(3, 11, n)
        extra = np.round(rng.uniform(18.0, 60.0, n), 1)
        for hub, first, length, h in zip(hubs, starts, lengths, extra, strict=True):
            span = hours[ci, hub, first : first + length]
            np.maximum(span, h, out=span)
            country = COUNTRIES[network.region_country[hub]]
            rows.append((carrier.code, network.region_codes[hub], country, first, first + length, h))
    episodes = pd.DataFrame(rows, columns=["carrier", "region", "country", "start", "end", "extra_hours"])
    for col in ("start", "end"):
        days = pd.to_timedelta(episodes[col].astype("int64"), unit="D")
        episodes[col] = pd.Timestamp(calendar.start) + days
    return Backlogs(hours=hours, episodes=episodes.sort_values(["start", "carrier"], ignore_index=True))


def network_load(ship_day: np.ndarray, n_days: int, period_days: int) -> np.ndarray:
    """Trailing 7-day pickups per day relative to their median over the period (1 = a normal week)."""
    counts = np.bincount(np.clip(ship_day, 0, n_days - 1), minlength=n_days).astype(float)
    trailing = np.convolve(counts, np.ones(7) / 7.0)[:n_days]
    base = np.median(trailing[7:period_days]) if period_days > 14 else trailing.mean()
    return trailing / max(base, 1e-9)


def peak_hours(network: Network, load: np.ndarray, ship_day, carrier, service, strength: float) -> np.ndarray:
    """Congestion delay: linear in the network load above LOAD_FREE, scaled per carrier and service."""
    excess = np.clip(load[ship_day] - LOAD_FREE, 0.0, None)
    return strength * 24.0 * network.carrier_attr("peak_sens")[carrier] * SERVICE_PEAK[service] * excess


def weather_hours(rng: np.random.Generator, severe: np.ndarray, route: dict[str, np.ndarray]) -> np.ndarray:
    """Delay from severe weather: origin on the pickup day and the next, transit hub, destination arrival.

    `route` holds region/day arrays: origin, ship_day, hub (-1 = none), hub_day, dest, arrival_day.
    """
    last = severe.shape[1] - 1
    o, sd = route["origin"], route["ship_day"]
    n_origin = severe[o, sd].astype(float) + severe[o, np.minimum(sd + 1, last)]
    hub = route["hub"]
    n_hub = np.where(hub >= 0, severe[np.maximum(hub, 0), route["hub_day"]], False)
    d, ad = route["dest"], route["arrival_day"]
    n_dest = severe[d, ad].astype(float) + severe[d, np.maximum(ad - 1, 0)]
    total = WEATHER_H["origin"] * n_origin + WEATHER_H["hub"] * n_hub + WEATHER_H["destination"] * n_dest
    return total * rng.uniform(0.6, 1.4, len(o))


def backlog_hours(backlogs: Backlogs, carrier, route: dict[str, np.ndarray]) -> np.ndarray:
    """Delay from backlogs of the shipment's carrier at its origin hub, transit hub and destination hub."""
    h = backlogs.hours
    oh, dh, hub = route["origin_hub"], route["dest_hub"], route["hub"]
    total = h[carrier, oh, route["ship_day"]] + np.where(dh != oh, h[carrier, dh, route["arrival_day"]], 0.0)
    return total + np.where(hub >= 0, h[carrier, np.maximum(hub, 0), route["hub_day"]], 0.0)
