"""Delay reasons: model contributions grouped into the fixed taxonomy, facts from scans first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.bundle import ModelBundle
from features.reasons import MESSAGES, Reason, delay_reasons, group_contributions, reason_of
from tests.factories import make_shipments
from training.models import TrainConfig, fit_bundle
from training.split import time_split


@pytest.mark.parametrize(
    ("feature", "reason"),
    [
        ("destination_snow_cm", Reason.WEATHER),
        ("customs", Reason.CUSTOMS),
        ("carrier_p90", Reason.CARRIER_BACKLOG),
        ("carrier_service_volume_28d", Reason.CARRIER_BACKLOG),
        ("destination_holidays_in_window", Reason.HOLIDAY_OR_WEEKEND),
        ("lane_n", Reason.LONG_OR_RARE_LANE),
        ("hours_since_event", Reason.STALLED),
        ("exception_seen", Reason.EXCEPTION),
    ],
)
def test_features_map_onto_the_taxonomy(feature: str, reason: Reason) -> None:
    assert reason_of(feature) == reason


def test_features_a_person_cannot_act_on_name_no_reason() -> None:
    assert reason_of("elapsed_hours") is None and reason_of("weight_kg") is None


def test_only_contributions_towards_lateness_count_and_they_add_up_per_reason() -> None:
    names = ["carrier_p50", "network_p90", "distance_km", "weight_kg", "origin_precip_mm"]
    grouped = group_contributions(names, np.array([0.2, 0.1, -0.5, 0.9, 0.0, 1.7]))  # last: expected value
    assert grouped == pytest.approx({Reason.CARRIER_BACKLOG: 0.3})


def test_facts_come_first_then_the_strongest_model_reasons_above_the_floor() -> None:
    names = ["carrier_p50", "customs", "day_of_week", "lane_p90"]
    out = delay_reasons(names, np.array([0.4, 0.9, 0.01, 0.2, 0.0]), facts=[Reason.STALLED], limit=3)
    assert [r.code for r in out] == [Reason.STALLED, Reason.CUSTOMS, Reason.CARRIER_BACKLOG]
    assert out[0].message == MESSAGES[Reason.STALLED] and out[0].as_dict()["weight"] is None


def test_a_fact_the_model_also_names_appears_once() -> None:
    out = delay_reasons(["customs"], np.array([0.8, 0.0]), facts=[Reason.CUSTOMS])
    assert [r.code for r in out] == [Reason.CUSTOMS]


def test_every_reason_has_a_plain_language_message() -> None:
    assert set(MESSAGES) == set(Reason) and all(m.endswith(".") for m in MESSAGES.values())


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    split = time_split(make_shipments(1500, seed=5, days=200))
    return fit_bundle(split.train, split.calibrate, config=TrainConfig(num_boost_round=20))


def test_the_bundle_gives_one_contribution_per_feature_plus_the_expected_value(bundle) -> None:
    ships = make_shipments(3, seed=9)
    names, contrib = bundle.contributions(ships)
    assert names == bundle.features.feature_names_ and contrib.shape == (3, len(names) + 1)
    raw = bundle.late_model.predict(bundle.features.matrix(ships), raw_score=True, num_threads=1)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=1e-6)


def test_in_flight_contributions_explain_the_in_transit_model(bundle) -> None:
    ships = make_shipments(2, seed=9)
    events = pd.DataFrame(
        {"shipment_id": ships["shipment_id"], "occurred_at": ships["created_at"] + pd.Timedelta(hours=2),
         "status": "picked_up"}
    )  # fmt: skip
    now = ships["created_at"].max() + pd.Timedelta(hours=5)
    names, contrib = bundle.contributions(ships, events, now)
    assert "hours_since_event" in names and contrib.shape == (2, len(names) + 1)
