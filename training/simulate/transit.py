"""The life of a shipment as arrays: handling and pickup, the naive promise, line haul, disruptions, delivery.

All times are float hours since the start of the calendar (UTC). Each function adds arrays to the shipment
dict `x` produced by `demand.sample_orders`.
"""

from __future__ import annotations

import numpy as np

from training.simulate import disruptions as dis
from training.simulate.calendar import Calendar, next_allowed
from training.simulate.network import (
    AIR_KMH,
    BASE_H,
    BORDER_H,
    CUSTOMS_MEDIAN_H,
    DELIVERY_SPREAD_H,
    FREIGHT,
    INTERCONTINENTAL,
    PUBLISHED_BORDER_DAYS,
    PUBLISHED_DAYS,
    PUBLISHED_KM,
    ROAD_KMH,
    Network,
)
from training.simulate.weather import Weather

SHIPPER_DELAY_P = np.array([0.92, 0.06, 0.02])  # extra business days before the parcel is ready
ARRIVAL_SORT_CUTOFF_H = 7.0  # arrivals at the delivery depot before this local hour go out the same day
RETURN_AFTER_FAIL_P = 0.2  # share of failed first attempts whose second attempt fails too (then returned)


def handling(rng: np.random.Generator, net: Network, cal: Calendar, x: dict) -> None:
    """Pickup on the same business day if ordered before the carrier's cut-off, else the next business day."""
    n = len(x["created"])
    cutoff = net.carrier_attr("cutoff_h")[x["carrier"]]
    first = x["created_day"] + (x["created_hour"] >= cutoff)
    extra = rng.choice(len(SHIPPER_DELAY_P), size=n, p=SHIPPER_DELAY_P)
    pickup_day = cal.business_day(net.region_country[x["origin"]], first, extra)
    x["shipped"] = cal.to_utc(pickup_day, cutoff + rng.uniform(0.25, 2.0, n), x["origin"])


def promise(net: Network, cal: Calendar, x: dict, slack_days: int) -> None:
    """Naive promise: published business days (service, distance band, border) + slack, 20:00 local."""
    s, lane = x["service"], x["lane"]
    published = PUBLISHED_DAYS[s] + np.floor(np.minimum(x["distance"], 2500.0) / PUBLISHED_KM[s]).astype(int)
    published = published + PUBLISHED_BORDER_DAYS[lane]
    day = cal.business_day(net.region_country[x["dest"]], x["created_day"] + 1, published + slack_days - 1)
    x["published_days"] = published
    x["promised"] = cal.to_utc(day, np.full(len(day), 20.0), x["dest"])


def line_haul(rng: np.random.Generator, net: Network, x: dict) -> None:
    """Undisturbed hours from pickup to the destination depot: distance, service, carrier, border, customs."""
    n, s, c, lane = len(x["created"]), x["service"], x["carrier"], x["lane"]
    road = BASE_H[s] + x["distance"] / ROAD_KMH[s]
    air = BASE_H[s] + x["distance"] / np.where(np.isnan(AIR_KMH[s]), 1.0, AIR_KMH[s])
    core = np.where(lane == INTERCONTINENTAL, air, road) * net.carrier_attr("speed")[c] + BORDER_H[lane]
    core = core + 4.0 * ((x["weight"] > 20) & (s != FREIGHT))
    sigma = net.carrier_attr("sigma")[c]
    x["core_h"] = core * np.exp(sigma * rng.standard_normal(n) - sigma**2 / 2)
    hold = CUSTOMS_MEDIAN_H[s] * np.exp(0.6 * rng.standard_normal(n))
    hold = hold + (rng.random(n) < 0.1) * rng.uniform(24.0, 96.0, n)  # inspections
    x["customs_h"] = np.where(lane >= 2, hold, 0.0)
    tail = rng.random(n) < net.carrier_attr("tail_p")[c]
    x["tail_h"] = np.where(tail, 12.0 + rng.exponential(48.0, n), 0.0)


def route(net: Network, cal: Calendar, x: dict) -> dict[str, np.ndarray]:
    """Hubs on the way and the (local) days the shipment passes them without disruptions."""
    c, o, d = x["carrier"], x["origin"], x["dest"]
    hub = net.mid_hub[c, o, d].astype(np.int64)
    undisturbed = x["core_h"] + x["customs_h"]
    hub_day, _ = cal.local_day_hour(x["shipped"] + 0.5 * x["core_h"], np.maximum(hub, 0))
    return {
        "origin": o,
        "dest": d,
        "origin_hub": net.hub_of[c, o].astype(np.int64),
        "dest_hub": net.hub_of[c, d].astype(np.int64),
        "hub": hub,
        "ship_day": cal.local_day_hour(x["shipped"], o)[0],
        "hub_day": hub_day,
        "arrival_day": cal.local_day_hour(x["shipped"] + undisturbed, d)[0],
    }


def disrupt(rng, net: Network, cal: Calendar, weather: Weather, backlogs: dis.Backlogs, x: dict, cfg) -> None:
    """Add peak congestion, severe weather and hub backlog delays; set the arrival at the delivery depot."""
    r = route(net, cal, x)
    load = dis.network_load(r["ship_day"], cal.n_days, cfg.days)
    x["peak_h"] = dis.peak_hours(net, load, r["ship_day"], x["carrier"], x["service"], cfg.peak_strength)
    x["weather_h"] = dis.weather_hours(rng, weather.severe, r)
    x["backlog_h"] = dis.backlog_hours(backlogs, x["carrier"], r)
    x |= {"origin_hub": r["origin_hub"], "dest_hub": r["dest_hub"], "mid_hub": r["hub"]}
    delay = x["tail_h"] + x["peak_h"] + x["weather_h"] + x["backlog_h"]
    x["arrival"] = x["shipped"] + x["core_h"] + x["customs_h"] + delay


def delivery_days(net: Network, cal: Calendar, weather: Weather) -> np.ndarray:
    """[pattern, region, day] next delivery day on or after each day; pattern 0 = Mon-Fri, 1 = Mon-Sat.

    Never on Sundays, destination national holidays or days when severe weather suspends deliveries.
    """
    open_day = np.stack([cal.weekday < 5, cal.weekday < 6])[:, None, :]
    ok = open_day & ~cal.holiday[net.region_country][None] & ~weather.no_delivery[None]
    return next_allowed(ok)


def deliver(rng: np.random.Generator, net: Network, cal: Calendar, weather: Weather, x: dict) -> None:
    """First attempt on the next delivery day; a failed one is retried the next delivery day, or returned."""
    n, d, s, c = len(x["created"]), x["dest"], x["service"], x["carrier"]
    table = delivery_days(net, cal, weather)
    pattern = (net.carrier_attr("saturday")[c] > 0) & (s != FREIGHT)
    local_day, local_hour = cal.local_day_hour(x["arrival"], d)
    day1 = table[pattern.astype(int), d, cal.clip(local_day + (local_hour >= ARRIVAL_SORT_CUTOFF_H))]
    day2 = table[pattern.astype(int), d, cal.clip(day1 + 1)]
    x["ofd1"] = cal.to_utc(day1, rng.uniform(7.5, 9.0, n), d)
    x["ofd2"] = cal.to_utc(day2, rng.uniform(7.5, 9.0, n), d)
    x["end1"] = x["ofd1"] + 0.3 + rng.random(n) * DELIVERY_SPREAD_H[s]
    x["end2"] = x["ofd2"] + 0.3 + rng.random(n) * DELIVERY_SPREAD_H[s]
    x["fail1"] = rng.random(n) < net.carrier_attr("fail_p")[c] + 0.03 * (x["weight"] > 20)
    x["fail2"] = x["fail1"] & (rng.random(n) < RETURN_AFTER_FAIL_P)
    x["returned"] = np.where(x["fail2"], x["end2"] + rng.uniform(24.0, 72.0, n), np.nan)
    x["delivered"] = np.where(x["fail1"], np.where(x["fail2"], np.nan, x["end2"]), x["end1"])
