import numpy as np
import pandas as pd
import pytest

from features.build import GROUPS, FeatureBuilder
from features.columns import shipment_columns
from features.geo import country_timezone
from features.history import STATS
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


def history_columns(features: pd.DataFrame) -> list[str]:
    return [f"{group}_{stat}" for group in GROUPS for stat in STATS]


def test_later_shipments_see_the_history_as_of_their_own_creation_day_and_no_further() -> None:
    """After training, a shipment sees the outcomes the bundle learned later (`add_history`, up to the data's
    end) and those a service recorded after that (`set_service_history`) from the day after they happened;
    learned offline or recorded by a service, the same outcomes give the same features. A shipment created
    after the last known outcome sees the history as of the day after it, not an emptier window."""
    history = make_shipments(4000, seed=5, days=200)
    train, later = history.iloc[:2500], history.iloc[2500:3300]  # make_shipments is in creation order
    after = history.iloc[3300:]  # what happens once the bundle is saved
    probe = make_shipments(40, seed=6, days=1).assign(carrier="mid", destination_country="DE")
    end = pd.concat([later["created_at"], later["delivered_at"]]).max()
    after = after[after["created_at"] > end.ceil("D")]
    last = after["delivered_at"].max() + pd.Timedelta(days=1)  # its history counts the last outcome
    stamps = [end + pd.Timedelta(days=1), after["created_at"].iloc[50], last]
    stamps.append(stamps[-1] + pd.Timedelta(days=300))  # long after everything known

    def features(builder: FeatureBuilder, at: pd.Timestamp) -> pd.DataFrame:
        return builder.transform(probe.assign(created_at=at)).reset_index(drop=True)

    saved, offline = FeatureBuilder(), FeatureBuilder()
    for builder in (saved, offline):
        builder.fit_transform(train)
    saved.add_history(saved.daily_counts(later))
    offline.add_history(offline.daily_counts(pd.concat([later, after])))
    before_service = [features(saved, at) for at in stamps]
    recorded = pd.concat([later.tail(200), after])  # also some it knew already: not counted twice
    saved.set_service_history(recorded)
    for at in stamps:
        pd.testing.assert_frame_equal(features(saved, at), features(offline, at))
    counts = history_columns(before_service[0])
    at_end, early, late, long_after = (features(offline, at)[counts].iloc[0] for at in stamps)
    assert (early.to_numpy() != at_end.to_numpy()).any() and late["carrier_volume_28d"] > 0
    pd.testing.assert_series_equal(long_after, late)  # nothing known since: as of the day after the last
    for frame in before_service[1:]:  # knowing nothing after the data's end: as of the day after it
        pd.testing.assert_frame_equal(frame[counts], before_service[0][counts])
    assert (at_end.to_numpy() != late.to_numpy()).any()
