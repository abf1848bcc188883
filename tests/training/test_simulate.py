"""The simulator: contract-clean frames, and every documented mechanism leaves its mark in the data."""

from __future__ import annotations

from pathlib import Path

import holidays
import numpy as np
import pandas as pd
import pytest

from features.contract import (
    EVENT_COLUMNS,
    SHIPMENT_COLUMNS,
    STATUSES,
    WEATHER_COLUMNS,
    validate_events,
    validate_shipments,
    validate_weather,
)
from training.simulate import Simulation, SimulationConfig, simulate, write_simulation
from training.simulate.network import CARRIERS, CUSTOMS_ZONE, REGIONS

N_SHIPMENTS = 40_000
REGION_TZ = {r[0]: r[4] for r in REGIONS}


@pytest.fixture(scope="session")
def sim() -> Simulation:
    return simulate(SimulationConfig(n_shipments=N_SHIPMENTS, seed=11))


def local_time(ts: pd.Series, regions: pd.Series) -> pd.Series:
    """Naive local wall-clock times of UTC timestamps in each row's region."""
    out = pd.Series(pd.NaT, index=ts.index, dtype="datetime64[ns]")
    for region, idx in regions.groupby(regions).groups.items():
        out.loc[idx] = ts.loc[idx].dt.tz_convert(REGION_TZ[region]).dt.tz_localize(None)
    return out


def lane_class(h: pd.DataFrame) -> pd.Series:
    oz, dz = (h[c].map(lambda cc: CUSTOMS_ZONE[cc]) for c in ("origin_country", "destination_country"))
    domestic = h["origin_country"] == h["destination_country"]
    return pd.Series(np.select([domestic, oz == dz], ["domestic", "eu"], "customs"), index=h.index)


@pytest.fixture(scope="session")
def h(sim: Simulation) -> pd.DataFrame:
    """Delivered shipments with transit hours, lane class, distance band and season."""
    df = sim.history[sim.history["delivered_at"].notna()].copy()
    df["transit_h"] = (df["delivered_at"] - df["created_at"]).dt.total_seconds() / 3600
    df["haul_h"] = (df["delivered_at"] - df["shipped_at"]).dt.total_seconds() / 3600
    df["lane"] = lane_class(df)
    df["band"] = pd.cut(df["distance_km"], [0, 300, 600, 1000, 2000, 30000]).astype("string")
    created = df["created_at"].dt.tz_convert(None)
    month, day = created.dt.month, created.dt.day
    df["peak"] = month.eq(12) & day.le(22) | month.eq(11) & day.ge(15)
    df["offpeak"] = month.between(2, 10)
    df["late"] = df["delivered_late"].astype(bool)
    return df


def test_frames_have_the_contract_columns_and_validation_rejects_nothing(sim: Simulation) -> None:
    for frame, columns, validate in (
        (sim.history, SHIPMENT_COLUMNS, validate_shipments),
        (sim.events, EVENT_COLUMNS, validate_events),
        (sim.weather, WEATHER_COLUMNS, validate_weather),
    ):
        assert {c: str(frame[c].dtype) for c in columns} == columns
        result = validate(frame)
        assert result.n_rejected == 0, result.summary()
        assert result.n_kept == len(frame)
    assert set(sim.history.columns) - set(SHIPMENT_COLUMNS) == {"attr_parcel_type"}
    assert sim.history["weather_condition"].isna().all()


def test_written_files_read_back_in_contract_dtypes(tmp_path: Path) -> None:
    small = simulate(SimulationConfig(n_shipments=1500, seed=2, days=60))
    paths = write_simulation(small, tmp_path)
    assert [p.name for p in paths] == ["history.parquet", "events.parquet", "weather.parquet"]
    for path, columns in zip(paths, (SHIPMENT_COLUMNS, EVENT_COLUMNS, WEATHER_COLUMNS), strict=True):
        back = pd.read_parquet(path)
        assert {c: str(back[c].dtype) for c in columns} == columns


def test_cli_writes_the_three_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.__main__ import main

    assert main(["simulate", "--shipments", "2000", "--seed", "3", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"history.parquet", "events.parquet", "weather.parquet"}
    assert len(pd.read_parquet(tmp_path / "history.parquet")) == 2000
    out = capsys.readouterr().out
    assert "shipments         2,000" in out and "late vs promise" in out


def test_same_seed_same_frames_other_seed_other_frames() -> None:
    cfg = SimulationConfig(n_shipments=3000, seed=5, days=120)
    a, b = simulate(cfg), simulate(cfg)
    for name in ("history", "events", "weather", "backlogs"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    other = simulate(SimulationConfig(n_shipments=3000, seed=6, days=120))
    assert not a.history["delivered_at"].equals(other.history["delivered_at"])


def test_the_network_is_broad(sim: Simulation) -> None:
    hist = sim.history
    services = hist.groupby("carrier")["service"].nunique()
    assert len(services) >= 5 and (services >= 2).all()
    assert hist["destination_country"].nunique() >= 6 and hist["destination_region"].nunique() >= 30
    assert 0.2 < (hist["origin_country"] != hist["destination_country"]).mean() < 0.5
    assert sim.config.end == pd.Timestamp("2025-12-31").date()
    assert "carriers          6 x services 4" in sim.describe()


def test_transit_grows_with_distance_and_cross_border_is_slower_at_equal_distance(h: pd.DataFrame) -> None:
    ground = h[h["service"] == "ground"]
    by_band = ground[ground["lane"] == "domestic"].groupby("band")["haul_h"].mean()
    assert by_band["(1000, 2000]"] > by_band["(0, 300]"] + 12
    means = h[h["lane"] != "customs"].groupby(["band", "lane"])["haul_h"].mean().unstack()
    for band in ("(300, 600]", "(600, 1000]", "(1000, 2000]"):
        assert means.loc[band, "eu"] > means.loc[band, "domestic"] + 8, band


def test_customs_lanes_have_customs_events_and_longer_transit(sim: Simulation, h: pd.DataFrame) -> None:
    held = set(sim.events.loc[sim.events["status"] == "customs_hold", "shipment_id"])
    cleared = set(sim.events.loc[sim.events["status"] == "customs_cleared", "shipment_id"])
    lanes = lane_class(sim.history)
    on_customs_lane = set(sim.history.loc[lanes == "customs", "shipment_id"])
    assert held <= on_customs_lane and cleared <= held
    assert set(h.loc[h["lane"] == "customs", "shipment_id"]) <= cleared
    band = h[h["band"].isin(["(600, 1000]", "(1000, 2000]"]) & (h["lane"] != "domestic")]
    means = band.groupby("lane")["haul_h"].mean()
    assert means["customs"] > means["eu"] + 12


def test_severe_weather_at_the_origin_delays_shipments(sim: Simulation, h: pd.DataFrame) -> None:
    w = sim.weather
    severe = pd.MultiIndex.from_frame(w.loc[w["severe_alert"], ["region", "date"]])
    ship_date = local_time(h["shipped_at"], h["origin_region"]).dt.normalize()
    hit = pd.MultiIndex.from_arrays([h["origin_region"], ship_date]).isin(severe)
    off = h["offpeak"].to_numpy()
    assert hit[off].sum() > 100
    assert h.loc[off & hit, "haul_h"].mean() > h.loc[off & ~hit, "haul_h"].mean() + 8


def test_no_deliveries_on_sundays_or_destination_holidays(h: pd.DataFrame) -> None:
    local = local_time(h["delivered_at"], h["destination_region"])
    assert (local.dt.day_of_week < 6).all()
    for country, idx in h.groupby("destination_country").groups.items():
        days = holidays.country_holidays(country, years=[2024, 2025, 2026])
        assert not local.loc[idx].dt.date.isin(days).any(), country


def test_saturday_deliveries_only_for_carriers_that_deliver_saturdays(h: pd.DataFrame) -> None:
    saturday = local_time(h["delivered_at"], h["destination_region"]).dt.day_of_week == 5
    assert set(h.loc[saturday, "carrier"]) == {c.code for c in CARRIERS if c.saturday}
    assert not (saturday & (h["service"] == "freight")).any()


def test_orders_after_the_cutoff_ship_on_a_later_business_day(h: pd.DataFrame) -> None:
    created = local_time(h["created_at"], h["origin_region"])
    shipped = local_time(h["shipped_at"], h["origin_region"])
    cutoff = h["carrier"].map({c.code: c.cutoff_h for c in CARRIERS}).astype(float)
    late_order = created.dt.hour + created.dt.minute / 60 >= cutoff
    assert late_order.mean() > 0.2
    assert (shipped[late_order].dt.normalize() > created[late_order].dt.normalize()).all()
    assert (shipped.dt.day_of_week < 5).all()


def test_peak_season_is_slower_and_the_promise_misses_more(h: pd.DataFrame) -> None:
    peak, off = h[h["peak"]], h[h["offpeak"]]
    assert peak["haul_h"].mean() > off["haul_h"].mean() + 8
    assert peak["late"].mean() > off["late"].mean() + 0.05


def test_backlog_episodes_slow_the_carrier_at_that_hub(sim: Simulation, h: pd.DataFrame) -> None:
    group = ["carrier", "origin_region", "service"]
    during = pd.Series(False, index=h.index)
    for ep in sim.backlogs.itertuples():
        shipped = h["shipped_at"].dt.tz_convert(None)
        at_hub = (h["carrier"] == ep.carrier) & (h["origin_region"] == ep.region)
        during |= at_hub & shipped.between(ep.start, ep.end - pd.Timedelta(seconds=1))
    baseline = h[~during & h["offpeak"]].groupby(group)["haul_h"].mean().rename("baseline")
    affected = h[during & ~h["peak"]].join(baseline, on=group)
    assert len(affected) > 50
    assert (affected["haul_h"] - affected["baseline"]).mean() > 12


def test_carriers_differ_in_speed_and_reliability(h: pd.DataFrame) -> None:
    ground = h[(h["service"] == "ground") & (h["lane"] == "domestic")]
    by_carrier = ground.groupby("carrier").agg(haul=("haul_h", "mean"), late=("late", "mean"))
    assert by_carrier["haul"].max() - by_carrier["haul"].min() > 10
    assert by_carrier["late"].max() - by_carrier["late"].min() > 0.04


def test_the_naive_promise_is_met_most_of_the_time(sim: Simulation, h: pd.DataFrame) -> None:
    assert 0.75 <= 1 - h["late"].mean() <= 0.93
    known = sim.history["delivered_at"].notna()
    expected = sim.history["delivered_at"] > sim.history["promised_at"]
    assert sim.history.loc[known, "delivered_late"].eq(expected[known]).all()
    assert sim.history.loc[~known, "delivered_late"].isna().all()


def test_event_histories_are_complete_and_in_order(sim: Simulation) -> None:
    ev, hist = sim.events, sim.history
    assert ev["event_id"].is_unique and set(ev["status"]) <= set(STATUSES)
    assert set(ev["status"]) == set(STATUSES)  # every canonical status occurs somewhere
    grouped = ev.groupby("shipment_id", sort=False)
    assert grouped["occurred_at"].apply(lambda s: s.is_monotonic_increasing).all()
    assert (grouped["status"].first() == "label_created").all()
    assert 8 <= len(ev) / len(hist) <= 12
    last = grouped.last()
    delivered = hist.set_index("shipment_id")["delivered_at"].dropna()
    assert (last.loc[delivered.index, "status"] == "delivered").all()
    assert (last.loc[delivered.index, "occurred_at"] == delivered).all()
    assert 0.002 < (last["status"] == "returned").mean() < 0.03


def test_shipments_in_flight_at_the_end_have_no_outcome_yet(sim: Simulation) -> None:
    end = pd.Timestamp(sim.config.end, tz="UTC")
    hist, ev = sim.history, sim.events
    assert (hist["created_at"] < end).all() and (ev["occurred_at"] < end).all()
    finished = set(ev.loc[ev["status"].isin(["delivered", "returned"]), "shipment_id"])
    in_flight = hist[~hist["shipment_id"].isin(finished)]
    assert len(in_flight) > 20
    assert in_flight["delivered_at"].isna().all()
    assert (in_flight["created_at"] > end - pd.Timedelta(days=30)).mean() > 0.9


def test_order_volume_has_weekly_and_seasonal_patterns(sim: Simulation) -> None:
    created = local_time(sim.history["created_at"], sim.history["origin_region"])
    per_weekday = created.dt.day_of_week.value_counts()
    assert per_weekday[[0, 1, 2]].min() > 1.5 * per_weekday[[5, 6]].max()
    per_month = created.dt.month.value_counts()
    assert per_month[[11, 12]].min() > 1.2 * per_month[[2, 3, 4, 5, 6, 7, 8, 9]].mean()
    assert created.dt.hour.between(8, 20).mean() > 0.7
