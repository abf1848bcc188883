import lightgbm as lgb
import numpy as np
import pytest

from features.fastpredict import OneThreadPredictor


def booster(objective: str) -> lgb.Booster:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 6))
    X[:, 0] = rng.integers(0, 8, len(X))  # a categorical column
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 1]) + (X[:, 0] == 3) + rng.normal(scale=0.1, size=len(X))
    label = (y > 0.5).astype(float) if objective == "binary" else y
    params = {"objective": objective, "num_leaves": 15, "verbosity": -1, "num_threads": 1}
    return lgb.train(params, lgb.Dataset(X, label, categorical_feature=[0]), num_boost_round=40)


@pytest.mark.parametrize("objective", ["quantile", "binary"])
@pytest.mark.parametrize("rows", [1, 2, 7, 12_000])  # one by one, one matrix, a bulk matrix on every core
def test_every_path_gives_what_booster_predict_on_one_thread_gives(objective: str, rows: int) -> None:
    model = booster(objective)
    X = np.random.default_rng(rows).normal(size=(rows, 6))
    X[:, 0] = np.resize([3, np.nan, 9, 0, 1, 2, 3], rows)  # seen, missing and unseen categories
    X[0, 2] = np.nan
    expected = model.predict(X, num_threads=1)
    predictor = OneThreadPredictor(model)
    for _ in range(2):  # the handle is made on the first call and reused
        np.testing.assert_array_equal(predictor.predict(X), expected)
        np.testing.assert_array_equal(predictor.predict(np.asfortranarray(X)), expected)
