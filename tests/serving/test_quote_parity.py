"""The checkout quote runs the offline code: its shipments, windows and probabilities equal those of the
validated contract frame through `ModelBundle.predict`, without building a frame per request."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.bundle import ModelBundle
from features.columns import FrameColumns
from features.geo import country_timezone
from serving.quotes import QuoteRequest, effective_starts, quote, request_columns, to_shipments
from tests.factories import make_shipments
from training.models import TrainConfig, fit_bundle
from training.split import time_split

NOW = dt.datetime(2024, 12, 1, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    split = time_split(make_shipments(3000, seed=11, days=330))
    return fit_bundle(split.train, split.calibrate, config=TrainConfig(num_boost_round=30))


def requests() -> list[QuoteRequest]:
    base = {
        "origin": {"country": "de", "region": "BE", "lat": 52.5, "lon": 13.4},
        "destination": {"country": "GB", "region": "A"},
        "options": [
            {"carrier": "fast", "service": "express"},
            {"carrier": " slow ", "service": "standard", "handling_hours": 26.5, "cutoff_local": "14:00"},
            {"carrier": "nobody", "service": "standard", "cutoff_local": "23:59:59.5"},
        ],
    }
    variants = [
        {},
        {"created_at": "2024-03-31T00:30:00Z", "weight_kg": 3.5, "by_date": "2024-04-03"},
        {"created_at": "2024-10-26T23:30:00+02:00", "attributes": {"parcel": "box", "fragile": True}},
        {"created_at": "2024-12-24T16:00:00Z", "policy": "conservative", "attributes": {"volume": 12}},
        {"destination": {"country": "DE"}, "coverage": 0.66, "by_date": "2024-12-03"},
        {"origin": {"country": "ZZ"}, "destination": {"country": "FR", "region": "nowhere"}},
    ]
    return [QuoteRequest.model_validate({**base, **v}) for v in variants]


@pytest.mark.parametrize("req", requests())
def test_request_columns_are_the_validated_frame_as_plain_columns(req: QuoteRequest) -> None:
    created = req.created_at or NOW
    frame = FrameColumns(to_shipments(req, pd.Timestamp(created)))
    columns = request_columns(req, created)
    assert set(columns) == set(frame)
    for name, values in columns.items():
        assert values.dtype == frame[name].dtype, name
        np.testing.assert_array_equal(values, frame[name], err_msg=name)


@pytest.mark.parametrize("req", requests())
def test_a_quote_equals_the_offline_prediction_of_its_shipments(
    bundle: ModelBundle, req: QuoteRequest
) -> None:
    answer = quote(bundle, req, NOW, 0.8).quotes
    shipments = to_shipments(req, pd.Timestamp(req.created_at or NOW))
    offline = bundle.predict(shipments, coverage=req.resolved_coverage(0.8))
    assert [q.window_start for q in answer] == [t.to_pydatetime() for t in offline["window_start"]]
    assert [q.window_end for q in answer] == [t.to_pydatetime() for t in offline["window_end"]]
    assert [q.prediction_source for q in answer] == list(offline["prediction_source"])
    if req.by_date is not None:
        end = pd.Timestamp(req.by_date + dt.timedelta(days=1), tz=country_timezone(req.destination.country))
        hours = ((end - shipments["created_at"]).dt.total_seconds() / 3600).to_numpy()
        p = bundle.probability_within(shipments, np.maximum(hours, 0))
        assert [q.p_on_time_by for q in answer] == list(np.where(hours <= 0, 0.0, p))


@pytest.mark.parametrize(
    ("created", "country", "cutoff"),
    [
        ("2024-03-30T22:59:00Z", "DE", "23:30"),  # the evening before Europe's switch to summer time
        ("2024-03-30T23:00:01Z", "DE", "00:00"),
        ("2024-10-26T22:30:00Z", "DE", "00:15"),  # the night it switches back
        ("2024-11-03T05:59:59Z", "US", "00:59:59"),
        ("2024-06-01T18:29:59.5Z", "IN", "23:59:59"),
        ("2024-06-01T18:30:00Z", "ZZ", "18:29:59.999999"),
    ],
)
def test_orders_after_the_cutoff_start_at_the_next_local_midnight(
    created: str, country: str, cutoff: str
) -> None:
    req = QuoteRequest.model_validate(
        {
            "origin": {"country": country},
            "destination": {"country": "FR"},
            "options": [{"carrier": "c", "service": "s", "cutoff_local": cutoff, "handling_hours": 0.5}],
        }
    )
    moment = pd.Timestamp(created)
    start = moment + pd.Timedelta(hours=0.5)
    local = start.tz_convert(country_timezone(country))
    if local.time() > dt.time.fromisoformat(cutoff):
        start = (local.normalize() + pd.Timedelta(days=1)).tz_convert("UTC")
    assert effective_starts(req, moment)[0] == start.tz_localize(None).to_datetime64()
