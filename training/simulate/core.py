"""`simulate(config)`: the whole pipeline, one numpy generator, and the result with its summary."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from training.simulate import demand, disruptions, frames, transit
from training.simulate.calendar import build_calendar
from training.simulate.events import build_events
from training.simulate.network import COUNTRIES, SERVICES, build_network
from training.simulate.weather import simulate_weather, weather_frame


@dataclass(frozen=True)
class SimulationConfig:
    n_shipments: int = 100_000
    seed: int = 0
    start: date = date(2024, 1, 1)
    days: int = 730  # the period: orders are created in [start, start + days), which is also the data's end
    peak_strength: float = 1.0  # Nov-Dec order surge and the congestion it causes; 0 turns both off
    weather_strength: float = 1.0  # rate of storm and snow episodes; 0 leaves only the seasonal climate
    backlogs_per_year: float = 5.0  # hub backlog episodes per carrier and year
    growth: float = 0.10  # yearly growth of order volume
    promise_slack_days: int = 1  # the naive promise: published business days + this
    buffer_days: int = 120  # simulated after the end so late outcomes exist (then cut at the end)
    first_id: int = 1  # the first shipment's number (parts of one history simulated apart get their own)

    def __post_init__(self) -> None:
        if self.n_shipments < 1 or self.days < 1:
            raise ValueError("n_shipments and days must be positive")

    @property
    def end(self) -> date:
        """End of the period (exclusive, 00:00 UTC): nothing after it is observed."""
        return self.start + timedelta(days=self.days)


@dataclass
class Simulation:
    config: SimulationConfig
    history: pd.DataFrame  # shipments, contract columns + attr_parcel_type
    events: pd.DataFrame  # scan events, contract columns
    weather: pd.DataFrame  # daily weather per (country, region, date)
    backlogs: pd.DataFrame  # ground truth: hub backlog episodes (carrier, region, country, start, end, hours)
    files: dict[str, pd.DataFrame] = field(init=False)

    def __post_init__(self) -> None:
        self.files = {"history": self.history, "events": self.events, "weather": self.weather}

    def describe(self) -> str:
        return _describe(self)


def simulate(config: SimulationConfig) -> Simulation:
    """Simulate `config.n_shipments` shipments over the period; deterministic for `config.seed`."""
    rng = np.random.default_rng(config.seed)
    net = build_network()
    cal = build_calendar(net, config.start, config.days + config.buffer_days)
    weather = simulate_weather(net, cal, rng, config.weather_strength)
    backlogs = disruptions.simulate_backlogs(rng, net, cal, config.backlogs_per_year)
    x = demand.sample_orders(rng, net, cal, config)
    transit.handling(rng, net, cal, x)
    transit.promise(net, cal, x, config.promise_slack_days)
    transit.line_haul(rng, net, x)
    transit.disrupt(rng, net, cal, weather, backlogs, x, config)
    transit.deliver(rng, net, cal, weather, x)
    end_h = config.days * 24.0
    history = frames.shipments_frame(x, net, config.start, end_h, config.first_id)
    ev = build_events(rng, x, end_h)
    del x
    events = frames.events_frame(ev, history["shipment_id"], net, config.start)
    episodes = backlogs.episodes[backlogs.episodes["start"] < pd.Timestamp(config.end)].reset_index(drop=True)
    return Simulation(config, history, events, weather_frame(net, cal, weather, config.days), episodes)


def write_simulation(sim: Simulation, out_dir: Path) -> list[Path]:
    """Write history.parquet, events.parquet and weather.parquet into `out_dir`; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in sim.files.items():
        path = out_dir / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def write_parts(config: SimulationConfig, parts: int, out_dir: Path) -> list[Path]:
    """A history too large for one process, simulated in `parts` independent runs of the same network over
    the same period (seeds `config.seed + k`, shipment numbers following on), each written as it is made:
    `history/part-K.parquet` and `events/part-K.parquet`, and the first run's `weather.parquet`."""
    out_dir = Path(out_dir)
    sizes = np.diff(np.linspace(0, config.n_shipments, parts + 1).round().astype(int))
    paths, first = [], 1
    for k, n in enumerate(sizes):
        sim = simulate(replace(config, n_shipments=int(n), seed=config.seed + k, first_id=first))
        for name in ("history", "events"):
            path = out_dir / name / f"part-{k:05d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            sim.files[name].to_parquet(path, index=False)
            paths.append(path)
        if k == 0:
            sim.weather.to_parquet(out_dir / "weather.parquet", index=False)
            paths.append(out_dir / "weather.parquet")
        first += int(n)
    return paths


def _share(values: pd.Series) -> str:
    """Mean of booleans (or 0/1 floats, NaN skipped) as a percentage; n/a when there are none."""
    mean = values.astype("float64").mean()
    return "n/a" if pd.isna(mean) else f"{100 * mean:.1f}%"


def _describe(sim: Simulation) -> str:
    h, cfg = sim.history, sim.config
    delivered = h["delivered_at"].notna()
    returned = sim.events["status"].eq("returned").sum()
    domestic = h["origin_country"] == h["destination_country"]
    transit = (h["delivered_at"] - h["created_at"]).dt.total_seconds() / 3600
    peak = h["created_at"].dt.month.isin([11, 12])
    late = h["delivered_late"].astype("float64")
    pairs = h[["carrier", "service"]].drop_duplicates()
    lines = [
        f"simulated period  {cfg.start} .. {cfg.end} (exclusive, {cfg.days} days), seed {cfg.seed}",
        f"shipments         {len(h):,}: delivered {_share(delivered)}, returned {returned:,}, "
        f"in flight at the end {int((~delivered).sum() - returned):,}",
        f"late vs promise   {_share(late)} (Nov-Dec {_share(late[peak])}, rest {_share(late[~peak])})",
        f"carriers          {h['carrier'].nunique()} x services {len(SERVICES)}: {len(pairs)} in use",
        f"countries         {h['origin_country'].nunique()} of {len(COUNTRIES)}, "
        f"regions {h['origin_region'].nunique()}",
        f"cross-border      {_share(~domestic)} of shipments",
        f"mean transit h    domestic {transit[domestic].mean():.1f}, "
        f"cross-border {transit[~domestic].mean():.1f} (created -> delivered)",
        f"events            {len(sim.events):,} ({len(sim.events) / len(h):.1f} per shipment)",
        f"weather rows      {len(sim.weather):,} (severe: {_share(sim.weather['severe_alert'])})",
        f"backlog episodes  {len(sim.backlogs)}",
    ]
    return "\n".join(lines)
