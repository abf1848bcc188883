from benchmarks.quality import bar


def real(**figures: float | None) -> dict:
    base = {
        "model_mae_hours": 10.0,
        "promise_mae_hours": 12.0,
        "lane_median_mae_hours": 20.0,
        "carrier_median_mae_hours": 15.0,
        "coverage": 0.80,
        "late_roc_auc": 0.85,
    }
    return base | figures


def simulated(coverage: float) -> dict:
    return {"segments": {"carrier": {"a": {"n": 100, "coverage": coverage}}}}


def test_the_quality_bar_checks_each_target_against_its_figure() -> None:
    results = {"real": {"x": real(coverage=0.85, late_roc_auc=0.79)}, "simulated": simulated(0.77)}
    assert [(row["dataset"], row["target"], row["met"]) for row in bar(results)] == [
        ("x", "P50 MAE below the promise's 12.00 h", True),
        ("x", "P50 MAE below the better median's 15.00 h", True),
        ("x", "80% windows cover 78-84%", False),
        ("x", "late-risk ROC-AUC >= 0.80", False),
        ("simulated, carrier a", "80% windows cover 78-82%", False),
    ]


def test_a_tie_with_the_promise_does_not_meet_the_bar_and_no_promise_means_no_promise_targets() -> None:
    tie = bar({"real": {"x": real(model_mae_hours=12.0)}, "simulated": simulated(0.8)})
    assert [row["met"] for row in tie if "promise" in row["target"]] == [False]
    no_promise = bar({"real": {"x": real(promise_mae_hours=None)}, "simulated": simulated(0.8)})
    assert [row["target"] for row in no_promise if row["dataset"] == "x"] == [
        "P50 MAE below the better median's 15.00 h",
        "80% windows cover 78-84%",
    ]
    assert all(row["met"] for row in no_promise)


def test_outcome_only_data_are_not_on_the_bar() -> None:
    outcome_only = real(model_mae_hours=None, promise_mae_hours=None, lane_median_mae_hours=None)
    assert [
        row
        for row in bar({"real": {"x": outcome_only}, "simulated": simulated(0.8)})
        if row["dataset"] == "x"
    ] == []
