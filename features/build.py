"""The feature builder: one code path from shipments in the contract to a model matrix.

`fit_transform` (training only) learns category levels, calendars and the lane/carrier history, and returns
features computed as of each shipment's creation. `transform` answers new shipments (a million rows or one
checkout request) from the fitted state alone: the state is saved in the model bundle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.calendar import HolidayCalendar, weekday
from features.dates import learn_delivery_weekdays
from features.geo import country_timezone, crosses_customs, haversine_km
from features.history import STATS, GroupHistory, GroupSnapshot, stats_from_counts

GROUPS = ("lane", "carrier_service", "carrier", "network")
CATEGORICAL = ("carrier", "service", "carrier_service", "origin_country", "destination_country", "lane")
WEATHER_FIELDS = ("precip_mm", "snow_cm", "wind_kph", "severe_alert")
PEAK_START_DOY = 319  # ~15 November


def group_keys(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """History groupings: lane (origin region -> destination region), carrier's service, carrier, network."""

    def place(side: str) -> pd.Series:
        return frame[f"{side}_country"].astype(str) + ":" + frame[f"{side}_region"].fillna("").astype(str)

    carrier = frame["carrier"].astype(str)
    return {
        "lane": (place("origin") + ">" + place("destination")).to_numpy(dtype=object),
        "carrier_service": (carrier + "/" + frame["service"].astype(str)).to_numpy(dtype=object),
        "carrier": carrier.to_numpy(dtype=object),
        "network": np.full(len(frame), "all", dtype=object),
    }


def transit_hours(frame: pd.DataFrame) -> np.ndarray:
    """Hours from creation to delivery (NaN while in flight or without times)."""
    return ((frame["delivered_at"] - frame["created_at"]).dt.total_seconds() / 3600).to_numpy(dtype=float)


def promised_hours(frame: pd.DataFrame) -> np.ndarray:
    return ((frame["promised_at"] - frame["created_at"]).dt.total_seconds() / 3600).to_numpy(dtype=float)


def utc_day(stamps: pd.Series) -> np.ndarray:
    """UTC day number of each timestamp (NaN where missing): history counts only whole earlier days."""
    seconds = (stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()
    return np.floor(seconds.to_numpy(dtype=float, na_value=np.nan) / 86400)


def local_times(created_at: pd.Series, countries: pd.Series) -> pd.DataFrame:
    """Local wall-clock parts of the creation time in the origin country's time zone."""
    out = pd.DataFrame(index=created_at.index, columns=["hour", "day", "doy", "month"], dtype=float)
    for country in countries.unique():
        mask = (countries == country).to_numpy()
        local = created_at[mask].dt.tz_convert(country_timezone(str(country)))
        naive = local.dt.tz_localize(None)
        out.loc[mask, "hour"] = (local.dt.hour + local.dt.minute / 60).to_numpy(dtype=float)
        out.loc[mask, "day"] = (naive.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days.to_numpy(
            dtype=float
        )
        out.loc[mask, "doy"] = local.dt.day_of_year.to_numpy(dtype=float)
        out.loc[mask, "month"] = local.dt.month.to_numpy(dtype=float)
    return out


class FeatureBuilder:
    """Unfitted until `fit_transform`; learned attributes end in `_` and are all the bundle needs."""

    def __init__(self, window_days: int = 180, min_level_count: int = 5) -> None:
        self.window_days = window_days
        self.min_level_count = min_level_count

    # ---- fitting (training only) -------------------------------------------------------------------
    def fit_transform(self, history: pd.DataFrame, weather: pd.DataFrame | None = None) -> pd.DataFrame:
        """Learn the state from the training window; return features as of each shipment's creation."""
        years = history["created_at"].dt.year.dropna()
        self.first_year_ = int(years.min()) - 1 if len(years) else 2000
        self.last_year_ = int(years.max()) + 3 if len(years) else 2030
        self.calendar_ = HolidayCalendar(self.first_year_, self.last_year_)
        self.as_of_ = history["created_at"].max()
        self.attr_numeric_ = [
            c for c in history if c.startswith("attr_") and pd.api.types.is_numeric_dtype(history[c])
        ]
        attr_text = [c for c in history if c.startswith("attr_") and c not in self.attr_numeric_]
        self.categorical_ = [*CATEGORICAL, "weather_condition", *attr_text]
        base = self._base(history)
        self.levels_ = {c: self._levels(base[c]) for c in self.categorical_}
        self.use_weather_ = weather is not None
        keys = group_keys(history)
        days = utc_day(history["created_at"])
        hours = transit_hours(history)
        on_time = self._on_time(history)
        delivered_day = utc_day(history["delivered_at"])
        self.delivery_weekdays_ = learn_delivery_weekdays(
            history["delivered_at"], history["destination_country"], history["carrier"]
        )
        self.snapshots_: dict[str, GroupSnapshot] = {}
        hist_counts = {}
        as_of_day = int(np.nanmax(days, initial=0))
        dated = ~np.isnan(days)  # outcome-only rows have no moment and so no history
        for name in GROUPS:
            gh = GroupHistory(self.window_days).fit(
                keys[name][dated], days[dated], delivered_day[dated], hours[dated], on_time[dated]
            )
            hist_counts[name] = gh.counts_as_of(keys[name], np.where(dated, days, -(10**9)))
            self.snapshots_[name] = gh.snapshot(as_of_day)
        self.feature_names_: list[str] = []
        out = self._assemble(history, base, hist_counts, weather)
        self.feature_names_ = list(out.columns)
        return out

    def _levels(self, values: pd.Series) -> list[str]:
        counts = values.value_counts()
        return sorted(str(k) for k in counts[counts >= self.min_level_count].index)

    @staticmethod
    def _on_time(frame: pd.DataFrame) -> np.ndarray:
        late = frame["delivered_late"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        return 1.0 - late

    # ---- transforming (training, evaluation and serving) -------------------------------------------
    def transform(self, frame: pd.DataFrame, weather: pd.DataFrame | None = None) -> pd.DataFrame:
        """Features for new shipments from the fitted state (history as of the end of training)."""
        base = self._base(frame)
        keys = group_keys(frame)
        hist_counts = {}
        for name in GROUPS:
            hist_counts[name] = self.snapshots_[name].counts(keys[name])
        return self._assemble(frame, base, hist_counts, weather)

    def _base(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Row-wise parts that need no history: categories, local calendar, geography."""
        base = pd.DataFrame(index=frame.index)
        for name, values in group_keys(frame).items():
            base[name] = values
        for col in ("carrier", "service", "origin_country", "destination_country", "weather_condition"):
            base[col] = frame[col].astype(str).str.lower().where(frame[col].notna(), None)
        for col in frame.columns:
            if col.startswith("attr_") and not pd.api.types.is_numeric_dtype(frame[col]):
                base[col] = frame[col].astype(str).where(frame[col].notna(), None)
        origin = frame["origin_country"].where(frame["origin_country"] != "ZZ", frame["destination_country"])
        local = local_times(frame["created_at"], origin)
        base["_day"] = local["day"].to_numpy()
        base["_hour"] = local["hour"].to_numpy()
        base["_doy"] = local["doy"].to_numpy()
        base["_month"] = local["month"].to_numpy()
        return base

    def _assemble(
        self,
        frame: pd.DataFrame,
        base: pd.DataFrame,
        hist_counts: dict[str, tuple[np.ndarray, ...]],
        weather: pd.DataFrame | None,
    ) -> pd.DataFrame:
        f: dict[str, np.ndarray] = {}
        for col in self.categorical_:
            values = base[col] if col in base else pd.Series(None, index=frame.index, dtype=object)
            f[f"cat_{col}"] = self._codes(col, values)
        day = base["_day"].to_numpy(dtype=float)
        f.update(self._calendar(frame, base, day))
        f.update(self._geography(frame))
        f["weight_kg"] = frame["weight_kg"].to_numpy(dtype=float, na_value=np.nan)
        f["promised_hours"] = promised_hours(frame)
        for col in self.attr_numeric_:
            values = frame[col] if col in frame else pd.Series(np.nan, index=frame.index)
            f[col] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for name in GROUPS:
            stats = stats_from_counts(*hist_counts[name])
            for stat in STATS:
                f[f"{name}_{stat}"] = np.asarray(stats[stat], dtype=float)
        f.update(self._expected_window(frame, day, f))
        if self.use_weather_:
            f.update(self._weather(frame, day, f["expected_days"], weather))
        return pd.DataFrame(f, index=frame.index)

    def _codes(self, col: str, values: pd.Series) -> np.ndarray:
        codes = pd.Index(self.levels_[col]).get_indexer(values.astype(object)).astype(float)
        codes[codes < 0] = np.nan
        return codes

    def _calendar(self, frame: pd.DataFrame, base: pd.DataFrame, day: np.ndarray) -> dict[str, np.ndarray]:
        d = np.nan_to_num(day, nan=0).astype(np.int64)
        origin = frame["origin_country"].to_numpy(dtype=object)
        dest = frame["destination_country"].to_numpy(dtype=object)
        doy = base["_doy"].to_numpy(dtype=float)
        return {
            "local_hour": base["_hour"].to_numpy(dtype=float),
            "day_of_week": weekday(d).astype(float),
            "month": base["_month"].to_numpy(dtype=float),
            "day_of_year": doy,
            "peak_season": (doy >= PEAK_START_DOY).astype(float),
            "origin_holiday": self.calendar_.is_holiday(origin, d).astype(float),
            "destination_holiday": self.calendar_.is_holiday(dest, d).astype(float),
            "days_to_destination_holiday": self.calendar_.days_to_next_holiday(dest, d).astype(float),
        }

    @staticmethod
    def _geography(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        coords = [
            frame[c].to_numpy(dtype=float, na_value=np.nan)
            for c in ("origin_lat", "origin_lon", "destination_lat", "destination_lon")
        ]
        given = frame["distance_km"].to_numpy(dtype=float, na_value=np.nan)
        distance = np.where(np.isnan(given), haversine_km(*coords), given)
        cross = (frame["origin_country"] != frame["destination_country"]).to_numpy(dtype=float)
        customs = crosses_customs(frame["origin_country"], frame["destination_country"]).astype(float)
        return {"distance_km": distance, "cross_border": cross, "customs": customs}

    def _expected_window(self, frame: pd.DataFrame, day: np.ndarray, f: dict) -> dict[str, np.ndarray]:
        """Calendar of the days the shipment is expected to travel (from the lane or carrier median)."""
        ref = f["lane_p50"]
        for name in ("carrier_service_p50", "carrier_p50", "network_p50"):
            ref = np.where(np.isnan(ref), f[name], ref)
        ref = np.nan_to_num(ref, nan=72.0)  # before the first delivery there is nothing better than a prior
        expected_days = np.ceil(ref / 24).clip(1, 120)
        start = np.nan_to_num(day, nan=0).astype(np.int64)
        end = start + expected_days.astype(np.int64) + 1
        dest = frame["destination_country"].to_numpy(dtype=object)
        origin = frame["origin_country"].to_numpy(dtype=object)
        business = self.calendar_.business_days_between(dest, start, end)
        return {
            "history_reference_hours": ref,
            "expected_days": expected_days,
            "business_days_in_window": business.astype(float),
            "non_business_days_in_window": (end - start - business).astype(float),
            "destination_holidays_in_window": self.calendar_.holidays_between(dest, start, end).astype(float),
            "origin_holidays_in_window": self.calendar_.holidays_between(origin, start, end).astype(float),
        }

    @staticmethod
    def _weather(
        frame: pd.DataFrame, day: np.ndarray, expected_days: np.ndarray, weather: pd.DataFrame | None
    ) -> dict[str, np.ndarray]:
        """Origin weather on the creation day and destination weather on the expected arrival day."""
        out: dict[str, np.ndarray] = {}
        if weather is None or weather.empty:
            return {
                f"{side}_{k}": np.full(len(frame), np.nan)
                for side in ("origin", "destination")
                for k in WEATHER_FIELDS
            }
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
                    frame[f"{side}_country"].astype(str).to_numpy(),
                    frame[f"{side}_region"].fillna("").astype(str).to_numpy(),
                    np.nan_to_num(when, nan=0).astype(np.int64),
                ]
            )
            joined = w.reindex(idx)
            for k in WEATHER_FIELDS:
                out[f"{side}_{k}"] = joined[k].to_numpy(dtype=float)
        return out
