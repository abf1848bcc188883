import numpy as np
import pandas as pd

from features.build import FeatureBuilder
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
