"""The promotion gate's judgement: a metric on labelled data, vs a threshold and the champion."""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from model_runtime.exceptions import EvaluationFailedError, InvalidEvaluationDataError
from model_runtime.manifest import Evaluation
from model_runtime.model import LoadedModel


def _metric(name: str, labels: list[Any], predictions: list[Any]) -> float:
    from sklearn import metrics

    if name == "accuracy":
        return float(metrics.accuracy_score(labels, predictions))
    if name in ("f1_macro", "precision_macro", "recall_macro"):
        scorer = {
            "f1_macro": metrics.f1_score,
            "precision_macro": metrics.precision_score,
            "recall_macro": metrics.recall_score,
        }[name]
        return float(scorer(labels, predictions, average="macro", zero_division=0))
    if name == "rmse":
        return math.sqrt(float(metrics.mean_squared_error(labels, predictions)))
    if name == "mae":
        return float(metrics.mean_absolute_error(labels, predictions))
    if name == "r2":
        return float(metrics.r2_score(labels, predictions))
    raise InvalidEvaluationDataError(f"unknown metric {name!r}")


@dataclass(frozen=True)
class EvaluationResult:
    metric: str
    direction: str
    value: float
    threshold: float
    rows: int
    live_version: str | None
    live_value: float | None
    margin: float

    @property
    def meets_threshold(self) -> bool:
        if self.direction == "maximize":
            return self.value >= self.threshold
        return self.value <= self.threshold

    @property
    def beats_live(self) -> bool:
        if self.live_value is None:
            return True
        if self.direction == "maximize":
            return self.value >= self.live_value + self.margin
        return self.value <= self.live_value - self.margin

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "meets_threshold": self.meets_threshold,
            "beats_live": self.beats_live,
        }


def read_labelled_csv(
    path: Path, feature_names: list[str], target: str
) -> tuple[list[list[float]], list[Any]]:
    """Feature rows in signature order, and labels, from a CSV with a header."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [name for name in [*feature_names, target] if name not in columns]
        if missing:
            raise InvalidEvaluationDataError(f"{path.name} lacks columns {missing}")
        rows, labels = [], []
        for number, record in enumerate(reader, start=2):
            try:
                rows.append([float(record[name]) for name in feature_names])
                label = float(record[target])
            except ValueError as exc:
                raise InvalidEvaluationDataError(f"{path.name} line {number}: {exc}") from None
            labels.append(int(label) if label.is_integer() else label)
    if not rows:
        raise InvalidEvaluationDataError(f"{path.name} has no data rows")
    return rows, labels


def evaluate(
    spec: Evaluation,
    data_path: Path,
    candidate: LoadedModel,
    live: LoadedModel | None,
    margin: float,
) -> EvaluationResult:
    """Score the candidate (and the live model, on the same rows) with the declared metric."""
    feature_names = [feature.name for feature in candidate.signature.inputs]
    rows, labels = read_labelled_csv(data_path, feature_names, spec.target)
    value = _metric(spec.metric, labels, candidate.predict(rows))
    live_value = _metric(spec.metric, labels, live.predict(rows)) if live else None
    return EvaluationResult(
        metric=spec.metric,
        direction=spec.direction,
        value=value,
        threshold=spec.threshold,
        rows=len(rows),
        live_version=live.version if live else None,
        live_value=live_value,
        margin=margin,
    )


def require_passing(result: EvaluationResult) -> None:
    """Raise with the numbers when the candidate misses its threshold or loses to live."""
    comparison = ">=" if result.direction == "maximize" else "<="
    if not result.meets_threshold:
        raise EvaluationFailedError(
            f"{result.metric} {result.value:.4f} on {result.rows} rows misses the threshold "
            f"({comparison} {result.threshold})"
        )
    if not result.beats_live:
        raise EvaluationFailedError(
            f"{result.metric} {result.value:.4f} does not beat live version "
            f"{result.live_version} ({result.live_value:.4f}) by the required margin "
            f"{result.margin}"
        )
