"""The exam a candidate sits: the metrics the gate knows, which way each is better, and how
the environment's bar and a manifest's own combine.

The environment owns the exam (``cdk.json``: a metric, a bar and a champion margin, per
environment and per model); a manifest may only ask for a stricter bar. The direction is
the metric's, never the uploader's: accuracy is maximised whatever a manifest says.
"""

from __future__ import annotations

from typing import Literal, get_args

Metric = Literal[
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "f1_weighted",
    "precision_macro",
    "recall_macro",
    "rmse",
    "mae",
    "mape",
    "r2",
]
METRICS: tuple[str, ...] = get_args(Metric)
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape"})
Direction = Literal["maximize", "minimize"]


def direction_of(metric: str) -> Direction:
    """Errors are minimised, scores maximised."""
    return "minimize" if metric in LOWER_IS_BETTER else "maximize"


def stricter_bar(metric: str, declared: float, environment: float | None) -> float:
    """The harder of two thresholds for ``metric``: a manifest may raise the environment's
    bar (a higher score, a lower error), never lower it."""
    if environment is None:
        return declared
    if direction_of(metric) == "maximize":
        return max(declared, environment)
    return min(declared, environment)
