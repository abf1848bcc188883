"""LightGBM settings and the quantile fitting shared by the transit and in-transit models."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.bundle import FLOOR_HOURS, QUANTILES


@dataclass
class TrainConfig:
    num_boost_round: int = 300
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.9
    promise_dropout: float = 0.3  # share of training rows shown without their promise, as at checkout
    window_days: int = 180
    seed: int = 0
    num_threads: int = 2


def lgb_params(config: TrainConfig, **objective: object) -> dict:
    return {
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_data_in_leaf,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": 0.9,
        "bagging_freq": 1,
        "seed": config.seed,
        "num_threads": config.num_threads,
        "verbosity": -1,
        **objective,
    }


SKLEARN_NAMES = {
    "min_data_in_leaf": "min_child_samples",
    "feature_fraction": "colsample_bytree",
    "bagging_fraction": "subsample",
    "bagging_freq": "subsample_freq",
    "seed": "random_state",
    "verbosity": "verbose",
}


def estimator_params(config: TrainConfig, **objective: object) -> dict:
    """`lgb_params` under the scikit-learn estimators' names (for `lightgbm.dask`), with the rounds; the
    threads are each Dask worker's own."""
    params = {SKLEARN_NAMES.get(k, k): v for k, v in lgb_params(config, **objective).items()}
    del params["num_threads"]
    return {**params, "n_estimators": config.num_boost_round}


def categorical(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if c.startswith("cat_")]


def lgb_dataset(X: pd.DataFrame, y: np.ndarray) -> lgb.Dataset:
    return lgb.Dataset(X, label=y, categorical_feature=categorical(X), free_raw_data=True)


def log_hours(hours: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(hours, FLOOR_HOURS))  # a minute: last-mile data are minutes apart


def fit_quantile_models(
    X: pd.DataFrame, y: np.ndarray, config: TrainConfig, quantiles: tuple[float, ...] = QUANTILES
) -> dict[float, lgb.Booster]:
    return {
        q: lgb.train(
            lgb_params(config, objective="quantile", alpha=q), lgb_dataset(X, y), config.num_boost_round
        )
        for q in quantiles
    }
