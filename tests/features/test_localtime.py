import datetime as dt
import zoneinfo

import numpy as np
import pandas as pd

from features.geo import country_timezone
from features.localtime import add_hours, hours_between, local_days, local_seconds, utc_of_local, utc_offsets

COUNTRIES = np.array(["DE", "US", "GB", "IN", "ZZ", "AU", "BR"], dtype=object)


def zoneinfo_offset(country: str, second: int) -> int:
    tz = zoneinfo.ZoneInfo(country_timezone(country))
    delta = dt.datetime.fromtimestamp(second, tz).utcoffset()
    assert delta is not None
    return int(delta.total_seconds())


def test_offsets_equal_zoneinfo_for_any_mix_of_countries_and_years() -> None:
    rng = np.random.default_rng(0)
    seconds = rng.integers(-10 * 365 * 86400, 80 * 365 * 86400, 3000)  # 1960–2050: the tables grow
    countries = rng.choice(COUNTRIES, len(seconds))
    expected = [zoneinfo_offset(c, int(s)) for c, s in zip(countries, seconds, strict=True)]
    assert list(utc_offsets(countries, seconds)) == expected


def test_offsets_change_at_the_second_of_a_switch() -> None:
    switch = int(pd.Timestamp("2024-03-31T01:00:00Z").timestamp())  # Europe/Berlin: +1 h -> +2 h
    seconds = np.array([switch - 1, switch, switch + 1])
    assert list(utc_offsets(np.array(["DE"] * 3, dtype=object), seconds)) == [3600, 7200, 7200]


def test_local_times_of_unknown_instants_are_flagged_not_guessed() -> None:
    instants = np.array(["NaT", "2024-07-01T12:00:00"], dtype="datetime64[ns]")
    local, known = local_seconds(instants, np.array(["DE", "DE"], dtype=object))
    assert list(known) == [False, True] and local[1] % 86400 == 14 * 3600
    days = local_days(instants, np.array(["US", "US"], dtype=object))
    assert np.isnat(days[0]) and days[1] == np.datetime64("2024-07-01")
    assert not local_seconds(instants[:1], np.array(["DE"], dtype=object))[1].any()


def test_local_midnight_goes_back_to_its_utc_instant() -> None:
    midnight = pd.Timestamp("2024-10-27").value // 10**9  # the night Europe leaves summer time
    utc = utc_of_local(np.array([midnight, midnight]), np.array(["DE", "IN"], dtype=object))
    expected = [pd.Timestamp("2024-10-27", tz=country_timezone(c)).timestamp() for c in ("DE", "IN")]
    assert list(utc) == expected


def test_hours_are_added_and_rounded_as_pandas_does_it() -> None:
    rng = np.random.default_rng(1)
    created = pd.Series(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**16, 5000)))
    hours = np.concatenate([rng.lognormal(3, 1.5, 2500), np.round(rng.uniform(0, 500, 2500) * 7200) / 7200])
    hours[::97] = np.nan
    created[::89] = pd.NaT
    expected = (created + pd.to_timedelta(hours, unit="h")).dt.round("s").dt.tz_localize(None)
    got = add_hours(created.dt.tz_localize(None).to_numpy(), hours)
    np.testing.assert_array_equal(got, expected.to_numpy())
    later = created + pd.to_timedelta(hours, unit="h")
    np.testing.assert_array_equal(
        hours_between(created.dt.tz_localize(None).to_numpy(), later.dt.tz_localize(None).to_numpy()),
        ((later - created).dt.total_seconds() / 3600).to_numpy(),
    )
