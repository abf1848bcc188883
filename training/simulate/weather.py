"""Daily regional weather: a seasonal climate per region plus multi-day storm and snow episodes.

Storm episodes (more in autumn/winter) hit every region within a few hundred km of a centre for 1-3 days with
strong wind and heavy rain; snow episodes (Nov-Mar) hit cold regions for 2-4 days. A day is `severe` when wind
>= 75 km/h, snow >= 8 cm or rain >= 35 mm; on the worst days (snow >= 15 cm or wind >= 95 km/h) carriers
suspend deliveries in the region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.simulate.calendar import Calendar
from training.simulate.network import COUNTRIES, Network

SEVERE_WIND_KPH, SEVERE_SNOW_CM, SEVERE_PRECIP_MM = 75.0, 8.0, 35.0
NO_DELIVERY_WIND_KPH, NO_DELIVERY_SNOW_CM = 95.0, 15.0


@dataclass(frozen=True)
class Weather:
    precip_mm: np.ndarray  # [region, day]
    snow_cm: np.ndarray
    temp_c: np.ndarray
    wind_kph: np.ndarray

    @property
    def severe(self) -> np.ndarray:
        return (
            (self.wind_kph >= SEVERE_WIND_KPH)
            | (self.snow_cm >= SEVERE_SNOW_CM)
            | (self.precip_mm >= SEVERE_PRECIP_MM)
        )

    @property
    def no_delivery(self) -> np.ndarray:
        return (self.snow_cm >= NO_DELIVERY_SNOW_CM) | (self.wind_kph >= NO_DELIVERY_WIND_KPH)


def _winter(calendar: Calendar) -> np.ndarray:
    """1 in mid-January, -1 in mid-July (per day)."""
    doy = calendar.dates().day_of_year.to_numpy()
    return np.cos(2 * np.pi * (doy - 15) / 365.25)


def _climate(network: Network, calendar: Calendar, rng: np.random.Generator) -> Weather:
    mean_t, amp, wet, storm = (network.climate[:, i : i + 1] for i in range(4))
    winter = _winter(calendar)[None, :]
    shape = (network.n_regions, calendar.n_days)
    anomaly = np.zeros(shape)
    shocks = rng.normal(0.0, 2.2, shape)
    for d in range(1, calendar.n_days):  # AR(1) temperature anomaly, one step per day for all regions
        anomaly[:, d] = 0.8 * anomaly[:, d - 1] + shocks[:, d]
    temp = mean_t - amp * winter + anomaly
    wet_day = rng.random(shape) < np.clip(wet * (1 + 0.2 * winter), 0, 0.95)
    precip = np.where(wet_day, rng.gamma(0.8, 6.0, shape), 0.0)
    snow = np.where(temp < 0.5, 0.8 * precip, 0.0)
    wind = 10 + rng.gamma(2.0, 5.0, shape) * (1 + 0.3 * storm * (1 + winter))
    return Weather(precip_mm=precip, snow_cm=snow, temp_c=temp, wind_kph=wind)


def _episodes(network: Network, calendar: Calendar, rng: np.random.Generator, kind: str, per_year: float):
    """(centre, first day, days, radius km) per episode; storms favour stormy regions, snow cold ones."""
    n = rng.poisson(per_year * calendar.n_days / 365.25)
    winter = _winter(calendar)
    season = np.clip(0.6 + winter, 0.05, None) if kind == "storm" else np.clip(winter - 0.2, 0.0, None) ** 2
    first = rng.choice(calendar.n_days, size=n, p=season / season.sum())
    region_w = network.climate[:, 3] if kind == "storm" else np.exp(-network.climate[:, 0] / 3.0)
    centre = rng.choice(network.n_regions, size=n, p=region_w / region_w.sum())
    length = rng.integers(1, 4, n) if kind == "storm" else rng.integers(2, 5, n)
    radius = rng.uniform(250, 650, n)
    return centre, first, length, radius


def _apply_episodes(network: Network, calendar: Calendar, w: Weather, rng: np.random.Generator, strength):
    per_year = 22.0 * strength
    for kind, rate in (("storm", per_year), ("snow", per_year * 0.45)):
        for centre, first, length, radius in zip(*_episodes(network, calendar, rng, kind, rate), strict=True):
            hit = network.dist_km[centre] <= radius
            days = slice(first, min(first + length, calendar.n_days))
            fade = 1.0 - 0.5 * network.dist_km[centre][hit] / radius  # weaker away from the centre
            if kind == "storm":
                w.wind_kph[hit, days] += (fade * rng.uniform(55, 90))[:, None]
                w.precip_mm[hit, days] += (fade * rng.uniform(15, 45))[:, None]
            else:
                w.temp_c[hit, days] -= 4.0
                cold = w.temp_c[hit, days] < 2.0
                w.snow_cm[hit, days] += np.where(cold, (fade * rng.uniform(8, 30))[:, None], 0.0)
                w.precip_mm[hit, days] += np.where(cold, (fade * rng.uniform(5, 15))[:, None], 0.0)


def simulate_weather(network: Network, calendar: Calendar, rng: np.random.Generator, strength: float):
    """Daily weather for every region and calendar day (episode rate scaled by `strength`; 0 = none)."""
    weather = _climate(network, calendar, rng)
    _apply_episodes(network, calendar, weather, rng, strength)
    for a in (weather.precip_mm, weather.snow_cm, weather.temp_c, weather.wind_kph):
        np.round(a, 1, out=a)  # the table's precision, so `severe` agrees with the written values
    return weather


def weather_frame(network: Network, calendar: Calendar, weather: Weather, n_days: int) -> pd.DataFrame:
    """The contract weather table: one row per (country, region, date) for the first `n_days` days."""
    n_r = network.n_regions
    region = np.repeat(np.arange(n_r), n_days)
    countries = np.array(COUNTRIES)[network.region_country]
    dates = calendar.dates(n_days).to_numpy().astype("datetime64[ns]")

    def flat(a: np.ndarray) -> np.ndarray:
        return a[:, :n_days].ravel()

    return pd.DataFrame(
        {
            "country": pd.array(countries[region], dtype="string"),
            "region": pd.array(np.array(network.region_codes)[region], dtype="string"),
            "date": np.tile(dates, n_r),
            "precip_mm": flat(weather.precip_mm),
            "snow_cm": flat(weather.snow_cm),
            "temp_c": flat(weather.temp_c),
            "wind_kph": flat(weather.wind_kph),
            "severe_alert": weather.severe[:, :n_days].ravel(),
        }
    )
