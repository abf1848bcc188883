"""Parsing helpers shared by the importers: reading raw CSVs, cleaning labels, numbers, dates and coordinates.

Readers build a frame with contract column names (plus `attr_*`). A row the reader itself must reject carries
its reason in `REJECT_REASON`; `import_dataset` moves such rows to the rejected frame, so every raw row is
accounted for as kept or rejected.
"""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

REJECT_REASON = "_reject_reason"

# A generous bounding box around India (mainland and islands): every real coordinate in India falls inside.
INDIA_BBOX = (6.0, 37.5, 68.0, 97.5)  # lat_min, lat_max, lon_min, lon_max


def read_raw_csv(path: Path) -> pd.DataFrame:
    """Read a raw CSV with every cell as text, newline-agnostic (LF, CRLF or CR-only) and BOM-free.

    Nothing becomes NaN here (`keep_default_na=False`): each importer decides which tokens mean missing.
    """
    with open(path, encoding="utf-8-sig", newline=None) as fh:  # newline=None: universal newlines
        text = fh.read()
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def text(values: pd.Series, missing: tuple[str, ...] = ()) -> pd.Series:
    """Strip surrounding whitespace; empty cells and the given tokens become missing."""
    s = values.astype("string").str.strip()
    return s.mask(s.isin(("", *missing)))


def label(values: pd.Series, missing: tuple[str, ...] = ()) -> pd.Series:
    """A category label: stripped, lower-cased, inner whitespace collapsed; missing tokens -> missing."""
    return text(values, missing).str.lower().str.replace(r"\s+", " ", regex=True)


def number(values: pd.Series) -> pd.Series:
    """Numbers mixed with text: numeric cells parse (thousands separators allowed), anything else -> NaN."""
    s = values.astype("string").str.strip().str.replace(",", "", regex=False)
    return pd.to_numeric(s, errors="coerce").astype("float64")


def fold(name: str) -> str:
    """Lookup key for a free-text name: accents removed, case-folded, whitespace collapsed."""
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(ascii_only.casefold().split())


def dates_utc(values: pd.Series, fmt: str) -> pd.Series:
    """Parse day-precision dates with an explicit format to midnight UTC; anything else (text) -> NaT."""
    return pd.to_datetime(text(values), format=fmt, errors="coerce", utc=True).astype("datetime64[ns, UTC]")


def local_times_utc(values: pd.Series, tz: str) -> pd.Series:
    """Parse ISO-like local date-times (`YYYY-mm-dd HH:MM:SS[.fff…]`) and convert them to UTC.

    Cells that are not a full date-time (time-only cells, text) and cells on or before 1900-01-01 (an Excel
    epoch such as 1899-12-30 means "time only, no date") are missing.
    """
    ts = pd.to_datetime(text(values), format="ISO8601", errors="coerce")
    ts = ts.mask(ts < pd.Timestamp("1900-01-02"))
    return localize(ts, tz)


def localize(naive: pd.Series, tz: str) -> pd.Series:
    """Naive local wall-clock times -> tz-aware UTC (ambiguous or non-existent local times -> NaT)."""
    aware = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    return aware.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def lat_lon_pair(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Split `"lat,lon"` strings into two float columns; malformed cells -> NaN in both."""
    parts = text(values).str.split(",", n=1, expand=True).reindex(columns=[0, 1])
    lat, lon = number(parts[0]), number(parts[1])
    bad = lat.isna() | lon.isna()
    return lat.mask(bad), lon.mask(bad)


def within(
    lat: pd.Series, lon: pd.Series, bbox: tuple[float, float, float, float]
) -> tuple[pd.Series, pd.Series]:
    """Keep a coordinate pair only when it lies inside the bounding box; otherwise both become NaN."""
    lat_min, lat_max, lon_min, lon_max = bbox
    ok = lat.between(lat_min, lat_max) & lon.between(lon_min, lon_max)
    return lat.where(ok), lon.where(ok)


def reject(df: pd.DataFrame, bad: pd.Series | np.ndarray, reason: str) -> None:
    """Mark rows for rejection by the reader (the first reason given to a row wins)."""
    if REJECT_REASON not in df:
        df[REJECT_REASON] = pd.Series(pd.NA, index=df.index, dtype="string")
    bad = pd.Series(bad, index=df.index).fillna(False).astype(bool)
    df[REJECT_REASON] = df[REJECT_REASON].mask(bad & df[REJECT_REASON].isna(), reason)
