import pandas as pd
import pytest

from features.contract import (
    SHIPMENT_COLUMNS,
    STATUSES,
    UTC_TS,
    validate_events,
    validate_shipments,
    validate_weather,
)


def make_shipments(n: int = 3, **overrides: object) -> pd.DataFrame:
    base: dict[str, object] = {
        "shipment_id": [f"s{i}" for i in range(n)],
        "carrier": "dhl",
        "service": "express",
        "origin_country": "DE",
        "destination_country": "FR",
        "created_at": "2024-03-01T10:00:00Z",
        "promised_at": "2024-03-03T18:00:00Z",
        "delivered_at": "2024-03-03T12:00:00Z",
    }
    base.update(overrides)
    return pd.DataFrame(base)


def test_valid_rows_are_kept_with_contract_dtypes() -> None:
    result = validate_shipments(make_shipments(attr_vehicle="van"))
    assert result.n_kept == 3 and result.n_rejected == 0
    for col, dtype in SHIPMENT_COLUMNS.items():
        assert str(result.valid[col].dtype) == dtype, col
    assert list(result.valid["attr_vehicle"]) == ["van"] * 3


def test_naive_timestamps_are_read_as_utc() -> None:
    result = validate_shipments(
        make_shipments(1, created_at="2024-03-01 10:00", delivered_at=None, promised_at=None)
    )
    assert result.valid.loc[0, "created_at"] == pd.Timestamp("2024-03-01 10:00", tz="UTC")


def test_each_bad_row_is_rejected_with_its_reason_and_the_rest_kept() -> None:
    df = make_shipments(6)
    df.loc[0, "carrier"] = None
    df.loc[1, "origin_country"] = "DEU"
    df.loc[2, "delivered_at"] = "2024-02-01T00:00:00Z"
    df.loc[3, "shipment_id"] = "s4"
    df.loc[5, "created_at"] = "not a date"
    result = validate_shipments(df)
    assert list(result.valid["shipment_id"]) == ["s4"]  # the first s4 (row 3) is kept, its repeat rejected
    assert dict(zip(result.rejected["shipment_id"], result.rejected["reason"], strict=True)) == {
        "s0": "missing carrier",
        "s1": "invalid origin_country (ISO 3166-1 alpha-2)",
        "s2": "delivered_at before created_at",
        "s4": "duplicate shipment_id",
        "s5": "missing created_at",
    }
    assert sum(result.reasons.values()) == result.n_rejected == 5
    assert "rejected 1: missing carrier" in result.summary()


def test_a_duplicate_of_a_rejected_row_keeps_the_valid_one() -> None:
    df = make_shipments(2, shipment_id=["a", "a"])
    df.loc[0, "carrier"] = None
    result = validate_shipments(df)
    assert result.n_kept == 1 and result.reasons == {"missing carrier": 1}


def test_unknown_country_becomes_zz_and_outcome_only_rows_need_no_times() -> None:
    df = pd.DataFrame(
        {"shipment_id": ["e1"], "carrier": ["x"], "service": ["road"], "delivered_late": [True]}
    )
    result = validate_shipments(df)
    assert result.n_kept == 1
    assert result.valid.loc[0, "origin_country"] == "ZZ"
    assert bool(result.valid.loc[0, "delivered_late"])


def test_delivered_late_is_derived_from_the_times_when_both_exist() -> None:
    df = make_shipments(2, delivered_late=[False, True])
    df.loc[0, "delivered_at"] = "2024-03-04T00:00:00Z"
    result = validate_shipments(df)
    assert list(result.valid["delivered_late"]) == [True, False]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("origin_lat", 95.0, "origin coordinates out of range"),
        ("weight_kg", -1.0, "negative weight_kg"),
    ],
)
def test_physically_impossible_values_are_rejected(column: str, value: float, reason: str) -> None:
    df = make_shipments(1, origin_lat=10.0, origin_lon=10.0)
    df[column] = value
    assert validate_shipments(df).reasons == {reason: 1}


def test_events_are_normalised_deduplicated_and_ordered_by_occurrence() -> None:
    df = pd.DataFrame(
        {
            "event_id": ["e2", "e1", "e1", "e3", "e4"],
            "shipment_id": "s1",
            "occurred_at": ["2024-03-02", "2024-03-01", "2024-03-01", "2024-03-03", None],
            "status": ["IN_TRANSIT", "picked_up", "picked_up", "beamed_up", "delivered"],
        }
    )
    result = validate_events(df)
    assert list(result.valid["event_id"]) == ["e1", "e2"]
    assert set(result.valid["status"]) <= set(STATUSES)
    assert str(result.valid["occurred_at"].dtype) == UTC_TS
    assert result.reasons == {"duplicate event_id": 1, "unknown status": 1, "missing occurred_at": 1}


def test_weather_rows_are_unique_per_region_and_day() -> None:
    df = pd.DataFrame(
        {
            "country": ["de", "DE"],
            "region": ["BE", "BE"],
            "date": ["2024-01-01", "2024-01-01"],
            "precip_mm": [1, 2],
        }
    )
    result = validate_weather(df)
    assert result.n_kept == 1 and result.reasons == {"duplicate country/region/date": 1}
    assert result.valid.loc[0, "country"] == "DE"
