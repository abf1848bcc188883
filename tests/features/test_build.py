import numpy as np
import pandas as pd
import pytest

from features.build import FeatureBuilder
from features.columns import shipment_columns
from features.geo import country_timezone
from tests.factories import make_shipments


def test_features_of_a_shipment_do_not_change_when_later_outcomes_change() -> None:
    history = make_shipments(3000, seed=1)
    cut = history["created_at"].quantile(0.5)
    altered = history.copy()
    later = altered["created_at"] > cut
    altered.loc[later, "delivered_at"] = altered.loc[later, "created_at"] + pd.Timedelta(hours=500)
    before = FeatureBuilder().fit_transform(history)[~later.to_numpy()]
    after = FeatureBuilder().fit_transform(altered)[~later.to_numpy()]
    pd.testing.assert_frame_equal(before, after)


def test_one_row_and_the_whole_frame_get_the_same_features() -> None:
    history = make_shipments(2000, seed=2)
    builder = FeatureBuilder()
    builder.fit_transform(history)
    new = make_shipments(50, seed=3)
    whole = builder.transform(new)
    single = pd.concat([builder.transform(new.iloc[[i]]) for i in range(len(new))])
    pd.testing.assert_frame_equal(whole, single)


def test_unseen_categories_and_lanes_become_missing_values_not_errors() -> None:
    builder = FeatureBuilder()
    builder.fit_transform(make_shipments(1000))
    new = make_shipments(5, carrier="never-seen", destination_region="nowhere")
    X = builder.transform(new)
    assert X["cat_carrier"].isna().all() and (X["lane_n"] == 0).all()
    assert X["carrier_service_n"].eq(0).all() and X["lane_p50"].isna().all()


def test_calendar_and_geography_features_carry_their_meaning() -> None:
    builder = FeatureBuilder()
    builder.fit_transform(make_shipments(1000))
    new = make_shipments(3).assign(
        destination_country=["DE", "FR", "GB"], created_at=pd.Timestamp("2024-12-24T09:00:00Z")
    )
    X = builder.transform(new)
    assert list(X["cross_border"]) == [0.0, 1.0, 1.0]
    assert list(X["customs"]) == [0.0, 0.0, 1.0]  # GB is outside the EU customs union
    assert list(X["local_hour"]) == [10.0] * 3  # Berlin in winter is UTC+1
    assert (X["destination_holidays_in_window"] >= 1).all()  # Christmas lies ahead everywhere
    assert np.all(X["day_of_week"] == 1)  # a Tuesday


def request_values(row: pd.Series) -> dict[str, list]:
    """One shipment as a request would give it: plain Python values, one per column."""
    return {col: [None if pd.isna(value) else value] for col, value in row.items()}


def test_a_single_request_as_plain_columns_gets_the_frame_features_to_the_bit() -> None:
    builder = FeatureBuilder()
    builder.fit_transform(make_shipments(2000, seed=2))
    new = make_shipments(40, seed=5).assign(distance_km=np.nan)
    new.loc[new.index[::3], "destination_region"] = pd.NA  # missing values take the same path too
    frame = builder.matrix(new)
    for i in range(len(new)):
        single = builder.matrix(shipment_columns(request_values(new.iloc[i]), 1))
        assert single.shape == (1, len(builder.feature_names_))
        np.testing.assert_array_equal(single[0].view(np.uint64), frame[i].view(np.uint64))


def test_the_matrix_is_the_transformed_frame_in_feature_order() -> None:
    builder = FeatureBuilder()
    builder.fit_transform(make_shipments(1000))
    new = make_shipments(30, seed=7)
    X = builder.transform(new)
    assert list(X.columns) == builder.feature_names_
    np.testing.assert_array_equal(builder.matrix(new), X.to_numpy())


@pytest.mark.parametrize("country", ["DE", "US", "GB", "IN", "ZZ"])
def test_local_time_features_match_pandas_around_daylight_saving_switches(country: str) -> None:
    builder = FeatureBuilder()
    builder.fit_transform(make_shipments(1000))
    switches = ["2024-03-10T10:00Z", "2024-03-31T01:00Z", "2024-10-27T01:00Z", "2024-11-03T06:00Z"]
    moments = pd.DatetimeIndex(
        [pd.Timestamp(s) + pd.Timedelta(minutes=m) for s in switches for m in range(-180, 181, 7)]
    )
    new = make_shipments(len(moments)).assign(
        created_at=moments,
        origin_country=country,
        destination_country=country,
        promised_at=pd.NaT,
        delivered_at=pd.NaT,
    )
    X = builder.transform(new)
    local = moments.tz_convert(country_timezone(country))  # ZZ: UTC
    assert list(X["local_hour"]) == list(local.hour + local.minute / 60)
    assert list(X["day_of_week"]) == list(local.day_of_week.astype(float))
    assert list(X["day_of_year"]) == list(local.day_of_year.astype(float))
    assert list(X["month"]) == list(local.month.astype(float))
