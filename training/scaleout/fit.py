"""Fit the bundle on a Dask cluster: features per partition, `lightgbm.dask` quantile and late-risk models,
then the single-machine calibration, in-transit model and bundle code on the windows that calibration needs.

Distributed LightGBM builds histograms on each worker and sums them, so the trees are close to, not equal to,
those fitted on one machine (bin boundaries come from each worker's sample; bagging draws per worker). The
promise dropout draws from a hash of the shipment id, so it does not depend on the partitioning either.
"""

from __future__ import annotations

import warnings

import dask
import dask.dataframe as dd
import lightgbm as lgb
import numpy as np
import pandas as pd
from distributed import Client
from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor

from features.build import FeatureBuilder, transit_hours
from features.bundle import QUANTILES, ModelBundle
from features.history import GroupHistory
from training.boosting import TrainConfig, categorical, estimator_params
from training.models import (
    calibrate_bundle,
    choose_reference,
    fit_in_transit,
    late_outcome,
    late_usable,
    new_bundle,
    quantile_design,
    references,
)
from training.scaleout.data import hash_share
from training.scaleout.features import counts, feature_meta, fit_features

TARGET = "_target"


def alpha(q: float) -> dict:
    return {"objective": "quantile", "alpha": q}


DROPOUT_SALT = 1  # the promise dropout's draw, apart from the samples' draws


HOURS, LATE, DROP = "_transit_hours", "_late", "_drop_promise"


def training_rows(
    part: pd.DataFrame,
    builder: FeatureBuilder,
    histories: dict[str, GroupHistory],
    weather: pd.DataFrame | None,
    dropout: float,
) -> pd.DataFrame:
    """A partition's features as of creation, beside what both models learn from: the transit hours, the
    late outcome and whether the quantile models see the promise (a draw from a hash of the shipment id)."""
    X = builder.features_as_of(part, histories, weather)
    drop = hash_share(part["shipment_id"], DROPOUT_SALT) < dropout
    return X.assign(**{HOURS: transit_hours(part), LATE: late_outcome(part), DROP: drop})


def quantile_rows(rows: pd.DataFrame, names: list[str], promise: bool) -> pd.DataFrame:
    """The delivered shipments as the quantile models see them (`models.quantile_design`, ratios to the
    promise if `promise`), target in `TARGET`."""
    done = rows[rows[HOURS].notna()]
    Xq, y = quantile_design(done[names], done[HOURS].to_numpy(), done[DROP].to_numpy(), promise)
    return Xq.assign(**{TARGET: y})


def late_rows(rows: pd.DataFrame, names: list[str], needs_promise: bool) -> pd.DataFrame:
    """The shipments the late-risk model learns from, with the outcome (1.0 late) in `TARGET`."""
    late = rows[LATE].to_numpy()
    usable = late_usable(rows[names], late, needs_promise)
    return rows.loc[usable, names].assign(**{TARGET: late[usable]})


def _fit(
    model: DaskLGBMRegressor | DaskLGBMClassifier, rows: dd.DataFrame, builder: FeatureBuilder
) -> lgb.Booster:
    names = builder.feature_names_
    # A category column without any level learned is empty everywhere: declared categorical it crashes
    # LightGBM's distributed bin finding (a segfault on the workers); on one machine it is simply unused.
    empty = {f"cat_{c}" for c in builder.categorical_ if not builder.levels_[c]}
    cats = [c for c in categorical(rows._meta[names]) if c not in empty]
    with warnings.catch_warnings():
        # lightgbm.dask warns for every estimator: scikit-learn's `n_jobs` is always among its parameters,
        # and each worker's threads replace it (as wanted)
        warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored", UserWarning)
        model.fit(rows[names], rows[TARGET], categorical_feature=cats)
    booster: lgb.Booster = model.to_local().booster_
    return booster


def fit_bundle_on_cluster(
    client: Client,
    train: dd.DataFrame,
    train_rows: dd.DataFrame,
    calibrate: pd.DataFrame,
    train_sample: pd.DataFrame,
    later: dd.DataFrame,
    weather: pd.DataFrame | None,
    events: pd.DataFrame | None,
    config: TrainConfig,
    metadata: dict | None = None,
) -> ModelBundle:
    """`models.fit_bundle` on a cluster. The lane and carrier history is learned from all of `train`, and
    from all of `later` (the calibration and test windows, as `models.fit_bundle` learns them); the
    models learn from `train_rows` (all of `train`, or a sample of it); calibration runs on `calibrate`
    and the in-transit model on `train_sample` (both gathered on the client, as `models.fit_bundle` takes
    them), with `events` the scans of those shipments."""
    builder = FeatureBuilder(window_days=config.window_days)
    histories = fit_features(client, train, builder, use_weather=weather is not None)
    shared = client.scatter([histories], broadcast=True)[0]
    names = list(builder.feature_names_)
    meta = feature_meta(builder).assign(**{TARGET: np.zeros(0)})
    flags = {HOURS: np.zeros(0), LATE: np.zeros(0), DROP: np.zeros(0, dtype=bool)}
    rows = train_rows.map_partitions(
        training_rows,
        builder,
        shared,
        weather,
        config.promise_dropout,
        meta=feature_meta(builder).assign(**flags),
    ).persist()  # features computed once for both kinds of model

    needs_promise = bool(train["promised_at"].count().compute() > 0)
    late = rows.map_partitions(late_rows, names, needs_promise, meta=meta).persist()
    lowest, highest = dask.compute(late[TARGET].min(), late[TARGET].max())
    late_model = None
    if lowest == 0 and highest == 1:  # both outcomes seen
        classifier = DaskLGBMClassifier(client=client, **estimator_params(config, objective="binary"))
        late_model = _fit(classifier, late, builder)
    del late

    builder.add_history(counts(later.to_delayed(), builder.daily_counts).compute())
    Xc = builder.transform(calibrate, weather)

    def fit_quantile(quantile: dd.DataFrame, q: float) -> lgb.Booster:
        return _fit(
            DaskLGBMRegressor(client=client, **estimator_params(config, **alpha(q))), quantile, builder
        )

    quantile_models, promise = None, True
    if rows[HOURS].count().compute() >= 100:  # as `models.fit_quantiles`, on the cluster
        designs = {
            p: rows.map_partitions(quantile_rows, names, p, meta=meta) for p in references(needs_promise)
        }
        medians = {p: fit_quantile(design, 0.5) for p, design in designs.items()}
        promise = choose_reference(medians, Xc, calibrate)
        chosen = designs[promise].persist()  # for the two quantiles left
        quantile_models = {q: medians[promise] if q == 0.5 else fit_quantile(chosen, q) for q in QUANTILES}
        del chosen, designs
    del rows

    bundle = new_bundle(builder, quantile_models, late_model, needs_promise, config, metadata, promise)
    calibrate_bundle(bundle, Xc, calibrate)
    X_sample = builder.features_as_of(train_sample, histories, weather)
    fit_in_transit(bundle, X_sample, train_sample, Xc, calibrate, events, config)
    return bundle
