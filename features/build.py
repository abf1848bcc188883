"""The feature builder: one code path from shipments in the contract to a model matrix.

`fit_transform` (training only) learns category levels, calendars and the lane/carrier history, and returns
features computed as of each shipment's creation. It runs in steps that also run on a cluster, partition by
partition: `summarise` (counts that add up over slices of history), `fit_summary` (the state from their sum)
and `features_as_of` (any slice's features, each shipment's history as of its creation day). `transform`
answers new shipments (a million rows or one checkout request) from the fitted state alone: the state is saved
in the model bundle.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import numpy as np
import pandas as pd

from features.calendar import CountryDays, HolidayCalendar, weekday
from features.columns import Columns, as_columns, shipment_columns
from features.dates import delivery_weekday_counts, delivery_weekdays
from features.geo import crosses_customs, haversine_km
from features.history import (
    PROMISED,
    STATS,
    GroupHistory,
    HistoryTable,
    add_daily,
    daily_counts,
    daily_since,
    snapshot_from_daily,
    stats_from_counts,
)
from features.localtime import hours_between, local_date_parts, local_seconds, utc_seconds
from features.summary import HistorySummary

GROUPS = ("lane", "carrier_service", "carrier", "network")
CATEGORICAL = ("carrier", "service", "carrier_service", "origin_country", "destination_country", "lane")
WEATHER_FIELDS = ("precip_mm", "snow_cm", "wind_kph", "severe_alert")
PEAK_START_DOY = 319  # ~15 November


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def group_keys(data: pd.DataFrame | Columns) -> dict[str, np.ndarray]:
    """History groupings: lane (origin region -> destination region), carrier's service, carrier, network."""
    c = as_columns(data)

    def place(side: str) -> list[str]:
        regions = ("" if r is None else r for r in c[f"{side}_region"])
        return [f"{country}:{region}" for country, region in zip(c[f"{side}_country"], regions, strict=True)]

    carrier = [str(v) for v in c["carrier"]]
    return {
        "lane": _objects([f"{o}>{d}" for o, d in zip(place("origin"), place("destination"), strict=True)]),
        "carrier_service": _objects([f"{k}/{s}" for k, s in zip(carrier, c["service"], strict=True)]),
        "carrier": _objects(carrier),
        "network": np.full(len(carrier), "all", dtype=object),
    }


def transit_hours(data: pd.DataFrame | Columns) -> np.ndarray:
    """Hours from creation to delivery (NaN while in flight or without times)."""
    c = as_columns(data)
    return hours_between(c["created_at"], c["delivered_at"])


def promised_hours(data: pd.DataFrame | Columns) -> np.ndarray:
    c = as_columns(data)
    return hours_between(c["created_at"], c["promised_at"])


def utc_day(stamps: pd.Series) -> np.ndarray:
    """UTC day number of each timestamp (NaN where missing): history counts only whole earlier days."""
    seconds = (stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()
    return np.floor(seconds.to_numpy(dtype=float, na_value=np.nan) / 86400)


class _Recorded(NamedTuple):
    daily: dict[str, pd.DataFrame]  # per grouping, the bundle's counts and those a service recorded after
    known_day: int  # the last day whose outcomes are known (the bundle's, or the service's latest delivery)
    by_day: dict[int, dict[str, HistoryTable]]  # the histories asked so far, by day (a few kB per group)


def _last_day(daily: pd.DataFrame) -> int:
    return int(daily.index.get_level_values("day").max())


def _lower(values: np.ndarray) -> np.ndarray:
    return _objects([None if v is None else str(v).lower() for v in values])


def _day_numbers(day: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(day), 0.0, day).astype(np.int64)  # no moment: day 0, as any placeholder


def _numbers(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    return np.asarray(pd.to_numeric(values, errors="coerce"), dtype=np.float64)


class FeatureBuilder:
    """Unfitted until `fit_transform`; learned attributes end in `_` and are all the bundle needs.

    Every feature is computed on plain numpy columns (`features.columns`), so the same code answers a million
    rows and a single checkout request: `matrix` gives the model matrix, `transform` the same as a frame.
    """

    def __init__(self, window_days: int = 180, min_level_count: int = 5) -> None:
        self.window_days = window_days
        self.min_level_count = min_level_count

    # ---- fitting (training only) -------------------------------------------------------------------
    def fit_transform(self, history: pd.DataFrame, weather: pd.DataFrame | None = None) -> pd.DataFrame:
        """Learn the state from the training window; return features as of each shipment's creation."""
        as_of = self.fit_summary(self.summarise(history), use_weather=weather is not None)
        return self.features_as_of(history, as_of, weather)

    def summarise(self, history: pd.DataFrame) -> HistorySummary:
        """What fitting needs from these shipments, as counts that add up with other slices' (see
        `features.summary`); reads no fitted state."""
        years = history["created_at"].dt.year.dropna()
        attrs = [str(c) for c in history.columns if str(c).startswith("attr_")]
        attr_numeric = [c for c in attrs if pd.api.types.is_numeric_dtype(history[c])]
        attr_text = [c for c in attrs if c not in attr_numeric]
        categorical = [*CATEGORICAL, "weather_condition", *attr_text]
        cols = as_columns(history)
        keys = group_keys(cols)
        base = self._base(cols, keys, categorical)
        created = history["created_at"].max()
        return HistorySummary(
            first_year=int(years.min()) if len(years) else None,
            last_year=int(years.max()) if len(years) else None,
            as_of=None if pd.isna(created) else created,
            attr_numeric=attr_numeric,
            attr_text=attr_text,
            levels={c: Counter(v for v in base[c] if v is not None) for c in categorical},
            weekdays=delivery_weekday_counts(
                history["delivered_at"], history["destination_country"], history["carrier"]
            ),
            daily=self.daily_counts(history, keys),
        )

    def daily_counts(
        self, history: pd.DataFrame, keys: dict[str, np.ndarray] | None = None
    ) -> dict[str, pd.DataFrame]:
        """Per history grouping, the day-by-day counts of these shipments' creations and outcomes
        (`features.history.daily_counts`); outcome-only rows have no moment and so no history."""
        keys = keys if keys is not None else group_keys(as_columns(history))
        days = utc_day(history["created_at"])
        dated = ~np.isnan(days)
        outcome = (utc_day(history["delivered_at"]), transit_hours(history), self._on_time(history))
        return {
            name: daily_counts(keys[name][dated], days[dated], *(a[dated] for a in outcome))
            for name in GROUPS
        }

    def fit_summary(self, summary: HistorySummary, use_weather: bool) -> dict[str, GroupHistory]:
        """Learn the state from a summary of the training window; returns the day-by-day lane and carrier
        history that `features_as_of` reads (training only: the bundle keeps the daily counts of its last
        window, `add_history` those of later outcomes)."""
        self.first_year_ = summary.first_year - 1 if summary.first_year is not None else 2000
        self.last_year_ = summary.last_year + 3 if summary.last_year is not None else 2030
        self.calendar_ = HolidayCalendar(self.first_year_, self.last_year_)
        self.as_of_ = summary.as_of
        self.attr_numeric_ = list(summary.attr_numeric)
        self.categorical_ = [*CATEGORICAL, "weather_condition", *summary.attr_text]
        self.levels_ = {
            c: sorted(str(k) for k, n in summary.levels[c].items() if n >= self.min_level_count)
            for c in self.categorical_
        }
        self.use_weather_ = use_weather
        self.delivery_weekdays_ = delivery_weekdays(summary.weekdays)
        as_of_day = 0 if summary.as_of is None else int(utc_day(pd.Series([summary.as_of]))[0])
        histories = {name: GroupHistory(self.window_days).from_daily(summary.daily[name]) for name in GROUPS}
        # later shipments see the history as of their own creation day, at least all of training's and at
        # most all that is known (the outcomes up to `known_day_`, the last day of the data)
        self.history_day_ = as_of_day + 1
        self.daily_ = {
            name: daily_since(summary.daily[name], self.history_day_ - self.window_days) for name in GROUPS
        }
        self.known_day_ = max([as_of_day, *(_last_day(d) for d in self.daily_.values() if len(d))])
        blank = shipment_columns({}, 1)  # the names come from the code that computes the features
        no_history = {name: np.full((1, len(STATS)), np.nan) for name in GROUPS}
        base = self._base(blank, group_keys(blank), self.categorical_)
        self.feature_names_: list[str] = list(self._assemble(blank, base, no_history, None))
        return histories

    def features_as_of(
        self,
        history: pd.DataFrame,
        histories: dict[str, GroupHistory],
        weather: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Features of training-window shipments with each one's lane and carrier history as of its own
        creation day (only outcomes from earlier days): `histories` from `fit_summary`. Any slice of the
        training window gives the rows `fit_transform` gives for the same shipments."""
        cols = as_columns(history)
        keys = group_keys(cols)
        days = utc_day(history["created_at"])
        as_of = np.where(np.isnan(days), -(10**9), days)  # no moment: no history
        stats = {}
        for name in GROUPS:
            per_row = stats_from_counts(*histories[name].counts_as_of(keys[name], as_of))
            stats[name] = np.column_stack([np.asarray(per_row[s], dtype=float) for s in STATS])
        out = self._assemble(cols, self._base(cols, keys, self.categorical_), stats, weather)
        return pd.DataFrame({name: out[name] for name in self.feature_names_}, index=history.index)

    @staticmethod
    def _on_time(frame: pd.DataFrame) -> np.ndarray:
        late = frame["delivered_late"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        return 1.0 - late

    # ---- later outcomes ----------------------------------------------------------------------------
    def add_history(self, daily: dict[str, pd.DataFrame]) -> None:
        """Learn the creations and outcomes of shipments after the training window (`daily_counts` of the
        calibration and test windows, before the bundle is saved): later shipments' history counts them from
        the day after each happened. A shipment must be added once."""
        self.daily_ = {name: add_daily(self.daily_[name], daily[name]) for name in GROUPS}
        self.known_day_ = max([self.known_day_, *(_last_day(d) for d in daily.values() if len(d))])
        self.__dict__.pop("_recorded", None)

    def set_service_history(self, shipments: pd.DataFrame) -> None:
        """The creations and outcomes a service has recorded after the bundle's last known day, replacing
        the ones set before (not saved with the bundle): counted like `add_history`'s, and known up to the
        last day it recorded a delivery on."""
        self.set_recorded_counts(self.recorded_counts(shipments))

    def recorded_counts(self, shipments: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """`daily_counts` of the shipments created or delivered after the bundle's last known day (the
        others cannot add to what it knows)."""
        last = np.fmax(utc_day(shipments["created_at"]), utc_day(shipments["delivered_at"]))
        after = shipments[last > self.known_day_]
        return self.daily_counts(after) if len(after) else {}

    def set_recorded_counts(self, recorded: dict[str, pd.DataFrame]) -> None:
        """`set_service_history` from `recorded_counts` (summed over partitions, say)."""
        counts = {name: daily_since(c, self.known_day_ + 1) for name, c in recorded.items()}
        delivered = [c[c.index.get_level_values("slot") < PROMISED] for c in counts.values()]
        known = max([self.known_day_, *(_last_day(d) for d in delivered if len(d))])
        daily = {
            name: add_daily(own, counts[name]) if len(counts.get(name, ())) else own
            for name, own in self.daily_.items()
        }
        self.__dict__["_recorded"] = _Recorded(daily, known, {})

    def known_through(self) -> int:
        """The last day (UTC day number) whose outcomes the history knows: the data's, or the latest delivery
        a service recorded."""
        return self._known().known_day

    def history_as_of(self, day: int) -> dict[str, HistoryTable]:
        """Every group's history as seen on `day` (outcomes of earlier days only), kept for every day asked:
        days are asked between the end of training and the day after the last known outcome, so they are
        few, and a service's refresh starts again from none."""
        known = self._known()
        snapshots = known.by_day.get(day)
        if snapshots is None:
            snapshots = {
                name: snapshot_from_daily(d, day, self.window_days).table() for name, d in known.daily.items()
            }
            known.by_day[day] = snapshots
        return snapshots

    def _known(self) -> _Recorded:
        """The bundle's counts with what a service recorded (nothing offline), and the histories asked of
        them so far."""
        known = self.__dict__.get("_recorded")
        if known is None:
            known = self.__dict__["_recorded"] = _Recorded(self.daily_, self.known_day_, {})
        return known

    # ---- transforming (training, evaluation and serving) -------------------------------------------
    def matrix(self, data: pd.DataFrame | Columns, weather: pd.DataFrame | None = None) -> np.ndarray:
        """Features of shipments after training: a float64 matrix, columns in `feature_names_` order, the lane
        and carrier history as of each one's creation day (at least as of the end of training, at most as of
        the day after the last known one). `data`: contract shipments, as a frame or plain columns."""
        cols = as_columns(data)
        keys = group_keys(cols)
        seconds, known = utc_seconds(cols["created_at"])
        latest = self.known_through() + 1
        days = np.where(known, np.clip(seconds // 86400, self.history_day_, latest), latest)
        if len(days) and (days == days[0]).all():  # one day (a request): no per-day split
            snapshots = self.history_as_of(int(days[0]))
            stats = {name: snapshots[name].stats(keys[name]) for name in GROUPS}
        else:
            stats = {name: np.empty((len(days), len(STATS))) for name in GROUPS}
            for day in np.unique(days):
                rows = days == day
                snapshots = self.history_as_of(int(day))
                for name in GROUPS:
                    stats[name][rows] = snapshots[name].stats(keys[name][rows])
        features = self._assemble(cols, self._base(cols, keys, self.categorical_), stats, weather)
        return np.array([features[name] for name in self.feature_names_], dtype=np.float64).T

    def transform(self, frame: pd.DataFrame, weather: pd.DataFrame | None = None) -> pd.DataFrame:
        """`matrix` as a frame with the feature names and the shipments' index."""
        return pd.DataFrame(self.matrix(frame, weather), columns=self.feature_names_, index=frame.index)

    @staticmethod
    def _base(cols: Columns, keys: dict[str, np.ndarray], categorical: list[str]) -> dict[str, np.ndarray]:
        """Row-wise parts that need no history: categories, local calendar."""
        base = dict(keys)
        for col in ("carrier", "service", "origin_country", "destination_country", "weather_condition"):
            base[col] = _lower(cols[col])
        for col in categorical:
            if col.startswith("attr_") and col in cols and cols[col].dtype == object:
                base[col] = _objects([None if v is None else str(v) for v in cols[col]])
        origin, destination = cols["origin_country"], cols["destination_country"]
        local, known = local_seconds(cols["created_at"], np.where(origin != "ZZ", origin, destination))
        base.update({f"_{k}": v for k, v in local_date_parts(local, known).items()})
        return base

    def _assemble(
        self,
        cols: Columns,
        base: dict[str, np.ndarray],
        history: dict[str, np.ndarray],
        weather: pd.DataFrame | None,
    ) -> dict[str, np.ndarray]:
        n = len(base["_day"])
        f = dict(zip((f"cat_{col}" for col in self.categorical_), self._codes(base, n), strict=True))
        day = base["_day"]
        calendars = self.calendar_.at(cols["origin_country"]), self.calendar_.at(cols["destination_country"])
        d = _day_numbers(day)
        f.update(self._calendar(base, d, *calendars))
        f.update(self._geography(cols))
        f["weight_kg"] = np.asarray(cols["weight_kg"], dtype=np.float64)
        f["promised_hours"] = promised_hours(cols)
        for col in self.attr_numeric_:
            f[col] = _numbers(cols[col]) if col in cols else np.full(n, np.nan)
        for name in GROUPS:
            f.update(zip((f"{name}_{stat}" for stat in STATS), history[name].T, strict=True))
        f.update(self._expected_window(d, f, *calendars))
        if self.use_weather_:
            f.update(self._weather(cols, day, f["expected_days"], weather))
        return f

    def _codes(self, base: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Category codes (one row per categorical column) by a look-up of the learned levels; NaN for a level
        not seen in training or a column not given."""
        index = self.__dict__.get("_level_index")
        if index is None:
            levels: dict[str, dict[object, float]] = {
                c: {v: float(i) for i, v in enumerate(self.levels_[c])} for c in self.categorical_
            }
            index = self.__dict__["_level_index"] = levels
        missing = [None] * n  # a column not given: no level
        codes = [lookup.get(v, np.nan) for c, lookup in index.items() for v in base.get(c, missing)]
        return np.array(codes, dtype=np.float64).reshape(len(index), n)

    def column(self, name: str) -> int:
        """Where a feature sits in the matrix."""
        index = self.__dict__.get("_column_index")
        if index is None:
            index = self.__dict__["_column_index"] = {c: j for j, c in enumerate(self.feature_names_)}
        return index[name]

    def __getstate__(self) -> dict:
        # caches, rebuilt on use, and what a service recorded (not the bundle's)
        caches = ("_level_index", "_column_index", "_recorded")
        return {k: v for k, v in self.__dict__.items() if k not in caches}

    @staticmethod
    def _calendar(
        base: dict[str, np.ndarray], d: np.ndarray, origin: CountryDays, dest: CountryDays
    ) -> dict[str, np.ndarray]:
        doy = base["_doy"]
        return {
            "local_hour": base["_hour"],
            "day_of_week": weekday(d).astype(float),
            "month": base["_month"],
            "day_of_year": doy,
            "peak_season": (doy >= PEAK_START_DOY).astype(float),
            "origin_holiday": origin.is_holiday(d).astype(float),
            "destination_holiday": dest.is_holiday(d).astype(float),
            "days_to_destination_holiday": dest.days_to_next_holiday(d).astype(float),
        }

    @staticmethod
    def _geography(cols: Columns) -> dict[str, np.ndarray]:
        coords = [cols[c] for c in ("origin_lat", "origin_lon", "destination_lat", "destination_lon")]
        given = cols["distance_km"]
        distance = np.where(np.isnan(given), haversine_km(*coords), given)
        origin, dest = cols["origin_country"], cols["destination_country"]
        customs = crosses_customs(origin, dest).astype(float)
        return {"distance_km": distance, "cross_border": (origin != dest).astype(float), "customs": customs}

    @staticmethod
    def _expected_window(
        start: np.ndarray, f: dict, origin: CountryDays, dest: CountryDays
    ) -> dict[str, np.ndarray]:
        """Calendar of the days the shipment is expected to travel (from the lane or carrier median)."""
        ref = f["lane_p50"]
        for name in ("carrier_service_p50", "carrier_p50", "network_p50"):
            ref = np.where(np.isnan(ref), f[name], ref)
        ref = np.where(np.isnan(ref), 72.0, ref)  # before the first delivery there is no better prior
        expected_days = np.minimum(np.maximum(np.ceil(ref / 24), 1), 120)
        end = start + expected_days.astype(np.int64) + 1
        business = dest.business_days_between(start, end)
        return {
            "history_reference_hours": ref,
            "expected_days": expected_days,
            "business_days_in_window": business.astype(float),
            "non_business_days_in_window": (end - start - business).astype(float),
            "destination_holidays_in_window": dest.holidays_between(start, end).astype(float),
            "origin_holidays_in_window": origin.holidays_between(start, end).astype(float),
        }

    @staticmethod
    def _weather(
        cols: Columns, day: np.ndarray, expected_days: np.ndarray, weather: pd.DataFrame | None
    ) -> dict[str, np.ndarray]:
        """Origin weather on the creation day and destination weather on the expected arrival day."""
        out: dict[str, np.ndarray] = {}
        if weather is None or weather.empty:
            sides = ("origin", "destination")
            return {f"{side}_{k}": np.full(len(day), np.nan) for side in sides for k in WEATHER_FIELDS}
        w = (
            weather.assign(
                _day=(pd.to_datetime(weather["date"]) - pd.Timestamp("1970-01-01")).dt.days,
                region=weather["region"].fillna("").astype(str),
            )
            .set_index(["country", "region", "_day"])[list(WEATHER_FIELDS)]
            .astype(float)
        )
        for side, when in (("origin", day), ("destination", day + expected_days)):
            idx = pd.MultiIndex.from_arrays(
                [
                    _objects([str(v) for v in cols[f"{side}_country"]]),
                    _objects(["" if v is None else str(v) for v in cols[f"{side}_region"]]),
                    _day_numbers(when),
                ]
            )
            joined = w.reindex(idx)
            for k in WEATHER_FIELDS:
                out[f"{side}_{k}"] = joined[k].to_numpy(dtype=float)
        return out
