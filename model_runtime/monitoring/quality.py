"""Live quality: clients' labels joined to the captured answers by request id and row, scored
with the gate's own metric (model_runtime/evaluation.py) and compared with the score the
version earned at its evaluation, which the registry keeps on the version.

Labels come in two forms (docs/monitoring.md): the endpoint's feedback log lines
(``{"message": "feedback", "model", "labels": [{"request_id", "row", "label"}]}``) and bulk
files (one ``{"model", "request_id", "row", "label"}`` per line). A label sent twice for the
same row counts once: the later one read wins (a correction).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sized
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from model_runtime.evaluation import score
from model_runtime.exceptions import InvalidEvaluationDataError
from model_runtime.monitoring.drift import NOISE_QUANTILE_Z
from registry.exam import direction_of

# Fewer labelled rows than this: the live metric is shown, but judges nothing (a handful of
# labels says little about a metric, and a pager should not ring on it). The sampling-noise
# guard below does the statistics; these floors keep its normal approximation honest.
MIN_LABELLED_ROWS = 20
# Errors (and r2) have no bound to lean on: their spread comes from the live rows themselves,
# and heavy-tailed errors need more rows before their mean's noise is known.
MIN_LABELLED_ROWS_ERRORS = 100
# Scores that are shares of rows (or averages of per-class shares): their sampling noise is
# binomial, known from the evaluation score alone.
PROPORTION_METRICS = frozenset(
    {"accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro"}
)
# Macro averages weigh each class alike, so their noise is that of the rarer classes.
_MACRO_BY_TRUTH = frozenset({"balanced_accuracy", "recall_macro"})
_TINY = 1e-12
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
    """(labels, predictions) of the captured rows that have a label, in the rows' order:
    ``keys`` holds the captured rows' request_id and row (a frame, or lists by column:
    ``capture_files.CapturedFrames``), ``predictions`` each row's first output, in the same
    order. A request captured twice is joined twice; a label of no captured row is left.

    Labels are a row in a hundred or fewer: the rows are looked up by request id in one pass
    over the ids, and only those found are read further."""
    truths: list[Any] = []
    predicted: list[Any] = []
    if not labels:
        return truths, predicted
    ids, rows = _as_list(keys["request_id"]), _as_list(keys["row"])
    if not isinstance(predictions, Sized):
        predictions = list(predictions)
    if not len(ids) == len(rows) == len(predictions):  # type: ignore[arg-type]
        raise ValueError(
            f"{len(ids)} captured rows but {len(predictions)} predictions"  # type: ignore[arg-type]
        )
    labelled = {request_id for request_id, _ in labels}
    found = [at for at, request_id in enumerate(ids) if request_id in labelled]
    if hasattr(predictions, "iloc"):  # a Series: its values as iterating it gives them
        chosen: Iterable[Any] = predictions.iloc[found]
    else:
        chosen = [predictions[at] for at in found]  # type: ignore[index]
    for at, prediction in zip(found, chosen, strict=True):
        label = labels.get((ids[at], int(rows[at])))
        if label is None or prediction is None or prediction != prediction:  # NaN: no answer
            continue
        prediction = prediction.item() if hasattr(prediction, "item") else prediction
        truths.append(_comparable(label, prediction))
        predicted.append(prediction)
    return truths, predicted


def _as_list(column: Any) -> list[Any]:
    return column.tolist() if hasattr(column, "tolist") else list(column)


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
    # an error metric's drop as a share of its evaluation score (what the alarm compares)
    relative_drop: float | None = None
    # the drop an unchanged model reaches by chance once in a thousand windows (metric units)
    noise: float | None = None
    # why the drop, if any, was not judged a degradation
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _effective_rows(metric: str, truths: list[Any], predictions: list[Any]) -> float:
    """The rows a proportion metric's noise is that of: all of them for accuracy, fewer for a
    macro average (K classes of n_k rows: K² / Σ 1/n_k, n for balanced classes)."""

    def harmonic(values: list[Any]) -> float:
        counts = Counter(values).values()
        return len(counts) ** 2 / sum(1 / c for c in counts)

    if metric in _MACRO_BY_TRUTH:
        return harmonic(truths)
    if metric == "precision_macro":
        return harmonic(predictions)
    if metric == "f1_macro":
        return min(harmonic(truths), harmonic(predictions))
    return float(len(truths))


def _proportion_noise(metric: str, truths: list[Any], predictions: list[Any], p: float) -> float:
    """The one-sided 99.9% bound of a share's fall by chance: z·sqrt(p(1-p)/n), plus the
    continuity correction 1/(2n). The normal approximation fails near 1 (a model right 99.5%
    of the time errs twice in 35 rows once in 75 windows), so p is kept a row from its ends."""
    n = _effective_rows(metric, truths, predictions)
    p = min(max(p, 1 / n), 1 - 1 / n)
    return NOISE_QUANTILE_Z * math.sqrt(p * (1 - p) / n) + 1 / (2 * n)


def _error_noise(metric: str, truths: list[Any], predictions: list[Any]) -> float:
    """The one-sided 99.9% bound of an error metric's (or r2's) rise by chance, from the
    spread of the live rows' own errors (the mean's standard error; the delta method for the
    square root of rmse and the ratio of r2)."""
    y = np.asarray(truths, dtype=float)
    residual = y - np.asarray(predictions, dtype=float)
    n = len(y)
    if metric == "mae":
        return NOISE_QUANTILE_Z * float(np.abs(residual).std()) / math.sqrt(n)
    if metric == "mape":
        # sklearn's own floor for a zero label
        share = np.abs(residual) / np.maximum(np.abs(y), np.finfo(np.float64).eps)
        return NOISE_QUANTILE_Z * float(share.std()) / math.sqrt(n)
    squared = residual**2
    mse = float(squared.mean())
    relative_mse = float(squared.std()) / math.sqrt(n) / max(mse, _TINY)
    if metric == "rmse":
        return NOISE_QUANTILE_Z * math.sqrt(mse) * relative_mse / 2
    # r2 = 1 - mse / var(y): both ratios' relative noise, their covariance left out (it
    # would only narrow the bound)
    spread = (y - y.mean()) ** 2
    relative_var = float(spread.std()) / math.sqrt(n) / max(float(spread.mean()), _TINY)
    return (
        NOISE_QUANTILE_Z
        * (mse / max(float(spread.mean()), _TINY))
        * math.hypot(relative_mse, relative_var)
    )


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
    version is degraded when its live metric is worse than its evaluation score by more than
    ``drop_alarm`` *and* by more than sampling noise lets an unchanged model fall (one window
    in a thousand). ``drop_alarm`` is an absolute fall of a share (accuracy, f1, ...) or of
    r2, and a relative rise of an error (rmse, mae, mape: 0.05 is 5% worse), whose units are
    the label's. Shares are judged on at least ``min_labelled_rows`` rows, errors and r2 on
    at least ``MIN_LABELLED_ROWS_ERRORS``."""
    if not evaluation or not evaluation.get("metric") or not truths:
        return None
    metric = str(evaluation["metric"])
    direction = direction_of(metric)
    reference = evaluation.get("value")
    evaluation_value = (
        float(reference)
        if isinstance(reference, int | float)
        and not isinstance(reference, bool)
        and math.isfinite(reference)
        else None
    )
    rows = len(truths)
    try:
        live_value = score(metric, truths, predictions)
    except (InvalidEvaluationDataError, TypeError, ValueError) as exc:
        return QualityResult(
            metric, direction, rows, None, evaluation_value, None, False, str(exc)[:500]
        )
    if evaluation_value is None:
        return QualityResult(
            metric,
            direction,
            rows,
            live_value,
            None,
            None,
            False,
            note="the version has no evaluation score to compare with",
        )
    drop = (
        evaluation_value - live_value if direction == "maximize" else live_value - evaluation_value
    )
    proportion = metric in PROPORTION_METRICS
    relative = drop / max(abs(evaluation_value), _TINY) if direction == "minimize" else None
    needed = min_labelled_rows if proportion else max(min_labelled_rows, MIN_LABELLED_ROWS_ERRORS)
    if rows < needed:
        return QualityResult(
            metric,
            direction,
            rows,
            live_value,
            evaluation_value,
            drop,
            False,
            relative_drop=relative,
            note=f"{rows} labelled rows: {metric} is judged on {needed} or more",
        )
    if proportion:
        noise = _proportion_noise(metric, truths, predictions, evaluation_value)
    else:
        noise = _error_noise(metric, truths, predictions)
    past_alarm = (relative if relative is not None else drop) > drop_alarm
    past_noise = drop > noise
    note = None
    if drop > 0 and not past_alarm:
        note = "within quality_drop_alarm"
    elif drop > 0 and not past_noise:
        note = f"within sampling noise ({noise:.4g} on {rows} labelled rows)"
    return QualityResult(
        metric,
        direction,
        rows,
        live_value,
        evaluation_value,
        drop,
        past_alarm and past_noise,
        relative_drop=relative,
        noise=noise,
        note=note,
    )
