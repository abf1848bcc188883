"""Evaluation of a model's predictions on the test window, beside the baselines, with a readable report."""

from training.evaluation.frame import join_truth
from training.evaluation.report import write_report
from training.evaluation.summary import evaluate, flatten_metrics, window_profile

__all__ = ["evaluate", "flatten_metrics", "join_truth", "window_profile", "write_report"]
