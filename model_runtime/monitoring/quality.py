"""Live quality: clients' labels joined to the captured answers by request id and row, scored
with the gate's own metric (model_runtime/evaluation.py) and compared with the score the
version earned at its evaluation, which the registry keeps on the version.

Labels come in two forms (docs/monitoring.md): the endpoint's feedback log lines
(``{"message": "feedback", "model", "labels": [{"request_id", "row", "label"}]}``) and bulk
files (one ``{"model", "request_id", "row", "label"}`` per line). A label sent twice for the
same row counts once: the later one read wins (a correction).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from model_runtime.evaluation import score
from model_runtime.exceptions import InvalidEvaluationDataError
from registry.exam import direction_of

# Fewer labelled rows than this: the live metric is shown, but judges nothing (a handful of
# labels says little about a metric, and a pager should not ring on it).
MIN_LABELLED_ROWS = 20
# The request ids clients may send are Lambda's (uuid) or their own retries of them.
MAX_REQUEST_ID_LENGTH = 128

LabelKey = tuple[str, int]


def _label_rows(record: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(model, label entry) of one feedback record, whichever form it has."""
    if record.get("message") == "feedback":
        model, labels = record.get("model"), record.get("labels")
        if isinstance(model, str) and isinstance(labels, list):
            for entry in labels:
                if isinstance(entry, dict):
                    yield model, entry
    elif isinstance(record.get("model"), str) and "request_id" in record and "label" in record:
        yield record["model"], record


def collect_labels(
    records: Iterable[dict[str, Any]], models: set[str] | None = None
) -> dict[str, dict[LabelKey, Any]]:
    """Every model's labels by (request id, row), from feedback records of both forms.

    Entries that are not labels (no request id, a negative row, a missing label) are
    skipped: a bulk file written by hand may hold anything, and one bad line must not lose
    the others."""
    found: dict[str, dict[LabelKey, Any]] = {}
    for record in records:
        for model, entry in _label_rows(record):
            if models is not None and model not in models:
                continue
            request_id, row = entry.get("request_id"), entry.get("row", 0)
            label = entry.get("label")
            valid = (
                isinstance(request_id, str)
                and 0 < len(request_id) <= MAX_REQUEST_ID_LENGTH
                and isinstance(row, int)
                and not isinstance(row, bool)
                and row >= 0
                and label is not None
            )
            if valid:
                found.setdefault(model, {})[(request_id, row)] = label
    return found


def _comparable(label: Any, prediction: Any) -> Any:
    """A label as the model answers: JSON carries class 1 and class "1" differently, and a
    client may send either."""
    if isinstance(prediction, str) and not isinstance(label, str):
        return str(label)
    if isinstance(prediction, bool) or not isinstance(prediction, int | float):
        return label
    if isinstance(label, str):
        try:
            return type(prediction)(float(label))
        except ValueError:
            return label
    return label


def join_keyed(
    keys: Any, predictions: Iterable[Any], labels: dict[LabelKey, Any]
) -> tuple[list[Any], list[Any]]:
    """(labels, predictions) of the captured rows that have a label: ``keys`` is the
    captured rows' (request_id, row) frame, ``predictions`` each row's first output, in the
    same order (``capture_files.CapturedFrames``)."""
    truths: list[Any] = []
    predicted: list[Any] = []
    if not labels:
        return truths, predicted
    for request_id, row, prediction in zip(
        keys["request_id"], keys["row"], predictions, strict=True
    ):
        label = labels.get((request_id, int(row)))
        if label is None or prediction is None or prediction != prediction:  # NaN: no answer
            continue
        prediction = prediction.item() if hasattr(prediction, "item") else prediction
        truths.append(_comparable(label, prediction))
        predicted.append(prediction)
    return truths, predicted


@dataclass(frozen=True)
class QualityResult:
    """The live metric of one version in one window, against its evaluation score."""

    metric: str
    direction: str
    labelled_rows: int
    live_value: float | None
    evaluation_value: float | None
    drop: float | None  # how much worse live is than the evaluation (positive: worse)
    degraded: bool
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def live_quality(
    evaluation: dict[str, Any] | None,
    truths: list[Any],
    predictions: list[Any],
    drop_alarm: float,
    min_labelled_rows: int = MIN_LABELLED_ROWS,
) -> QualityResult | None:
    """Score labelled live rows with the version's exam metric; None without a metric (the
    version was never evaluated) or without a labelled row.

    ``evaluation`` is the version's stored evaluation result (``metric``, ``value``). The
    version is degraded when live is worse than its evaluation by ``drop_alarm`` or more
    (an absolute difference in the metric's own unit), judged on at least
    ``min_labelled_rows`` rows."""
    if not evaluation or not evaluation.get("metric") or not truths:
        return None
    metric = str(evaluation["metric"])
    direction = direction_of(metric)
    reference = evaluation.get("value")
    evaluation_value = float(reference) if isinstance(reference, int | float) else None
    try:
        live_value = score(metric, truths, predictions)
    except (InvalidEvaluationDataError, TypeError, ValueError) as exc:
        return QualityResult(
            metric, direction, len(truths), None, evaluation_value, None, False, str(exc)[:500]
        )
    drop = None
    if evaluation_value is not None:
        drop = (
            evaluation_value - live_value
            if direction == "maximize"
            else live_value - evaluation_value
        )
    degraded = (
        drop is not None and len(truths) >= min_labelled_rows and drop > 0 and drop >= drop_alarm
    )
    return QualityResult(
        metric, direction, len(truths), live_value, evaluation_value, drop, degraded
    )
