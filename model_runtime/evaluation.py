"""The promotion gate's judgement: a metric on labelled data, vs a threshold and the champion."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from model_runtime.csv_data import read_cells
from model_runtime.exceptions import (
    EvaluationFailedError,
    InvalidEvaluationDataError,
    InvalidInputError,
)
from model_runtime.manifest import Column, Evaluation, Signature
from model_runtime.model import LoadedModel
from model_runtime.model_input import ModelInput, category_kind
from registry.statuses import NotComparablePolicy


def score(name: str, labels: list[Any], predictions: list[Any]) -> float:
    """The exam's metric ``name`` of ``predictions`` against ``labels``: the gate scores
    candidates with it, and the monitor job live traffic, so the two numbers compare."""
    from sklearn import metrics

    if name == "accuracy":
        return float(metrics.accuracy_score(labels, predictions))
    if name == "balanced_accuracy":
        return float(metrics.balanced_accuracy_score(labels, predictions))
    if name in ("f1_macro", "precision_macro", "recall_macro", "f1_weighted"):
        scorer, average = {
            "f1_macro": (metrics.f1_score, "macro"),
            "f1_weighted": (metrics.f1_score, "weighted"),
            "precision_macro": (metrics.precision_score, "macro"),
            "recall_macro": (metrics.recall_score, "macro"),
        }[name]
        return float(scorer(labels, predictions, average=average, zero_division=0))
    try:
        if name == "rmse":
            return math.sqrt(float(metrics.mean_squared_error(labels, predictions)))
        if name == "mae":
            return float(metrics.mean_absolute_error(labels, predictions))
        if name == "mape":
            return float(metrics.mean_absolute_percentage_error(labels, predictions))
        if name == "r2":
            return float(metrics.r2_score(labels, predictions))
    except (TypeError, ValueError) as exc:
        raise InvalidEvaluationDataError(
            f"{name} needs numeric labels and predictions: {exc}"
        ) from None
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
    comparable: bool = True
    not_comparable_reason: str | None = None

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


class EvaluationData:
    """The evaluation CSV as text cells by column name (missing by pandas' rule, as when it
    was packaged); each model reads it through its own signature, so a candidate and the live
    model are scored on the same rows even when their columns differ."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns, self.records = read_cells(path)
        if not self.records:
            raise InvalidEvaluationDataError(f"{path.name} has no data rows")

    def lacking(self, names: list[str]) -> list[str]:
        return [name for name in names if name not in self.columns]

    def model_input(self, signature: Signature) -> ModelInput:
        """The rows as the model's columns, typed by its signature and checked as requests
        are; a bad cell is named by line and column."""
        columns = signature.inputs
        missing = self.lacking([column.name for column in columns])
        if missing:
            raise InvalidEvaluationDataError(f"{self.path.name} lacks columns {missing}")
        rows = []
        for line, record in enumerate(self.records, start=2):
            rows.append([self._cell(line, column, record[column.name]) for column in columns])
        try:
            return ModelInput.from_request(signature, rows)
        except InvalidInputError as exc:
            row = _row_of(str(exc))
            where = f" (line {row + 2})" if row is not None else ""
            raise InvalidEvaluationDataError(f"{self.path.name}{where}: {exc}") from None

    def labels(self, target: str, output: Column) -> list[Any]:
        if target not in self.columns:
            raise InvalidEvaluationDataError(f"{self.path.name} lacks columns {[target]}")
        labels = []
        for line, record in enumerate(self.records, start=2):
            label = self._cell(line, output.model_copy(update={"name": target}), record[target])
            if label is None:
                raise InvalidEvaluationDataError(f"{self.path.name} line {line}: no {target}")
            labels.append(label)
        return labels

    def _cell(self, line: int, column: Column, text: str | None) -> Any:
        if text is None:
            return None
        # a category column's cells are what its categories are (integers, say)
        kind = category_kind(column) if column.type == "category" else column.type
        try:
            return _CONVERT[kind](text)
        except ValueError:
            raise InvalidEvaluationDataError(
                f"{self.path.name} line {line}: {column.name} is {text[:40]!r}, not {_KIND[kind]}"
            ) from None


def _integer(text: str) -> int:
    number = float(text)
    if not number.is_integer():
        raise ValueError(text)
    return int(number)


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(text)


_CONVERT = {
    "float": float,
    "int": _integer,
    "bool": _boolean,
    "string": str,
    "category": str,
    "datetime": str,
}
_KIND = {
    "float": "a number",
    "int": "an integer",
    "bool": "true or false",
    "string": "a string",
    "category": "a string",
    "datetime": "a date-time",
}


def _row_of(message: str) -> int | None:
    match = re.match(r"inputs\[(\d+)\]", message)
    return int(match.group(1)) if match else None


def evaluate(
    spec: Evaluation,
    data_path: Path,
    candidate: LoadedModel,
    live: LoadedModel | None,
    margin: float,
) -> EvaluationResult:
    """Score the candidate (and the live model, on the same rows, through its own
    signature) with the declared metric."""
    data = EvaluationData(data_path)
    labels = data.labels(spec.target, candidate.signature.outputs[0])
    value = score(
        spec.metric, labels, candidate.predict_checked(data.model_input(candidate.signature))
    )
    live_value, reason = None, None
    if live is not None:
        lacking = data.lacking([column.name for column in live.signature.inputs])
        if lacking:
            named = lacking[:10] + ([f"... {len(lacking)} in all"] if len(lacking) > 10 else [])
            reason = (
                f"live version {live.version} needs columns {named} that the evaluation data "
                "does not have"
            )
        else:
            live_input = data.model_input(live.signature)
            live_value = score(spec.metric, labels, live.predict_checked(live_input))
    return EvaluationResult(
        metric=spec.metric,
        direction=spec.direction,
        value=value,
        threshold=spec.threshold,
        rows=len(labels),
        live_version=live.version if live else None,
        live_value=live_value,
        margin=margin,
        comparable=reason is None,
        not_comparable_reason=reason,
    )


def require_passing(result: EvaluationResult, when_not_comparable: NotComparablePolicy) -> None:
    """Raise with the numbers when the candidate misses its threshold, loses to live, or
    cannot be compared with live and the environment refuses that."""
    comparison = ">=" if result.direction == "maximize" else "<="
    if not result.meets_threshold:
        raise EvaluationFailedError(
            f"{result.metric} {result.value:.4f} on {result.rows} rows misses the threshold "
            f"({comparison} {result.threshold})"
        )
    if not result.comparable and when_not_comparable == NotComparablePolicy.REFUSE:
        raise EvaluationFailedError(
            f"{result.not_comparable_reason}, so the candidate cannot be compared with it; "
            "this environment refuses such a candidate (champion_not_comparable: refuse)"
        )
    if not result.beats_live:
        raise EvaluationFailedError(
            f"{result.metric} {result.value:.4f} does not beat live version "
            f"{result.live_version} ({result.live_value:.4f}) by the required margin "
            f"{result.margin}"
        )
