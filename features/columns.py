"""Shipments as plain numpy columns, the form the feature code reads.

A validated contract frame and a checkout request become the same arrays: float64 with NaN for numbers
and booleans, datetime64[ns] (UTC) with NaT for timestamps, object arrays with None for text. The feature
code then runs unchanged for a million rows or a single request, without a DataFrame per request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from features.contract import SHIPMENT_COLUMNS, UNKNOWN_COUNTRY, UTC_TS, country_code, text_value

Columns = Mapping[str, np.ndarray]
NAT = np.iinfo(np.int64).min
NS_TYPE = np.dtype("datetime64[ns]")
COUNTRY_COLUMNS = ("origin_country", "destination_country")


def column_array(values: pd.Series) -> np.ndarray:
    """One frame column as a plain array (see the module docstring)."""
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    if pd.api.types.is_datetime64_dtype(dtype):  # naive timestamps are UTC in the contract
        return values.to_numpy(dtype="datetime64[ns]")
    if pd.api.types.is_numeric_dtype(dtype):  # booleans too: True is 1.0
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return values.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]


class FrameColumns(Mapping[str, np.ndarray]):
    """A frame's columns as plain arrays, each converted on first use."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._arrays: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._arrays:
            self._arrays[key] = column_array(self.frame[key])
        return self._arrays[key]

    def __contains__(self, key: object) -> bool:
        return key in self.frame.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self.frame.columns)

    def __len__(self) -> int:
        return len(self.frame.columns)


def as_columns(data: pd.DataFrame | Columns) -> Columns:
    """Plain columns of a frame (at the boundary), or the columns given."""
    return FrameColumns(data) if isinstance(data, pd.DataFrame) else data


def n_rows(columns: Columns) -> int:
    return len(columns["carrier"])


def _instant_ns(value: object) -> int | None:
    if value is None or value is pd.NaT:
        return None
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value)


def _attribute(values: Sequence[object] | np.ndarray) -> np.ndarray:
    """An `attr_*` column typed as a frame built from the same values would type it."""
    if all(isinstance(v, bool | np.bool_) for v in values) or all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_) for v in values
    ):
        return np.array([float(v) for v in values], dtype=np.float64)  # type: ignore[arg-type]
    return np.array([None if v is None else v for v in values], dtype=object)


def _given(values: Sequence[object] | np.ndarray, dtype: str, country: bool) -> np.ndarray:
    if dtype == UTC_TS:
        if isinstance(values, np.ndarray) and values.dtype.kind == "M":  # already instants (UTC)
            return values.astype(NS_TYPE)
        ns = [_instant_ns(v) for v in values]
        return np.array([NAT if v is None else v for v in ns], dtype=np.int64).view(NS_TYPE)
    if dtype in ("float64", "boolean"):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)  # type: ignore[arg-type]
    if country:
        return np.array([country_code(v) for v in values], dtype=object)
    return np.array([text_value(v) for v in values], dtype=object)


@lru_cache(maxsize=64)
def _empty(dtype: str, n: int, country: bool) -> np.ndarray:
    """A column of n missing values (read-only: shared by every request of n shipments)."""
    if dtype == UTC_TS:
        out = np.full(n, NAT, dtype=np.int64).view(NS_TYPE)
    elif dtype in ("float64", "boolean"):
        out = np.full(n, np.nan)
    else:
        out = np.full(n, UNKNOWN_COUNTRY if country else None, dtype=object)
    out.flags.writeable = False
    return out


def shipment_columns(values: Mapping[str, Sequence[object] | np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Already-checked values (e.g. from a request schema) as the columns `validate_shipments` and
    `column_array` give for the same shipments: every contract column (missing ones empty), plus `attr_*`."""
    out: dict[str, np.ndarray] = {}
    for col, dtype in SHIPMENT_COLUMNS.items():
        given, country = values.get(col), col in COUNTRY_COLUMNS
        out[col] = _empty(dtype, n, country) if given is None else _given(given, dtype, country)
    for col, given in values.items():
        if col.startswith("attr_"):
            out[col] = _attribute(given)
    return out
