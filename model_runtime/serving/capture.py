"""Data capture: a sample of live requests and their answers, one log line each.

The endpoint makes no API call for it: the line goes to stdout like the request's metrics, so
Lambda delivers it to the function's log group, a subscription filter (``$.message =
"capture"``) hands it to Amazon Data Firehose, and Firehose writes it, with the other captured
lines of the hour, under ``capture/YYYY/MM/DD/HH/`` in the artifact bucket (infra/data_capture.py).
Feedback (true labels for earlier requests) takes the same path to ``feedback/``.

Only live traffic is captured (a canary's share included): staging and pinned-version requests
are the gate's and people's tests, not the population the model serves. A model's excluded
columns never reach the line: left out of rows sent by name, null in rows sent by position,
and named in ``excluded`` so the monitor job does not read them as missing values.
"""

from __future__ import annotations

import json
import random
import sys
import time
from functools import cache
from typing import Any

from model_runtime.manifest import Signature
from model_runtime.model import LoadedModel
from model_runtime.serving.metrics import logger
from registry.metrics import environment_name
from registry.monitoring_settings import MAX_CAPTURE_LINE_BYTES, monitoring_settings

CAPTURE_FORMAT = 1
_random = random.random  # the sampling draw: no need for a cryptographic source


@cache
def _capture_of(model: str) -> tuple[float, frozenset[str]]:
    return monitoring_settings().capture_of(model)


def sampled(model: str) -> bool:
    """Whether this request of ``model`` is captured (its rate, drawn per request)."""
    rate = _capture_of(model)[0]
    return rate >= 1.0 or (rate > 0.0 and _random() < rate)


def capture_answer(
    request_id: str, model: LoadedModel, inputs: list[Any], outputs: list[Any]
) -> None:
    """Capture an answered live request if it is sampled. Never raises: the prediction is
    made and its answer built, so a capture that fails (bad settings, an unexpected value)
    costs that capture line, logged, not the client's answer."""
    try:
        if sampled(model.name):
            capture(request_id, model.name, model.version, model.signature, inputs, outputs)
    except Exception:
        logger.exception("could not capture a request of %s %s", model.name, model.version)


def capture(
    request_id: str,
    model: str,
    version: str,
    signature: Signature,
    inputs: list[Any],
    outputs: list[Any],
) -> None:
    """Write the capture line of one answered live request (already sampled)."""
    excluded = _capture_of(model)[1]
    if excluded:
        excluded = _columns_named(excluded, signature)
    rows = _without(inputs, excluded, signature) if excluded else inputs
    head = (
        f'{{"message":"capture","capture_format":{CAPTURE_FORMAT},'
        f'"request_id":{json.dumps(request_id)},"model":{json.dumps(model)},'
        f'"version":{json.dumps(version)},"environment":{json.dumps(environment_name())},'
        f'"time_ms":{int(time.time() * 1000)},"traffic":"live","rows":{len(inputs)},'
        f'"excluded":{json.dumps(sorted(excluded))}'
    )
    body = _rows_and_outputs(rows, outputs, MAX_CAPTURE_LINE_BYTES - len(head) - 64)
    sys.stdout.write(head + body + "}\n")


def _rows_and_outputs(rows: list[Any], outputs: list[Any], budget: int) -> str:
    """``,"inputs":[...],"outputs":[...],"truncated":...``: every row if it fits the line's
    budget, else the first rows that do (CloudWatch Logs cuts longer events)."""
    whole = f',"inputs":{_dumps(rows)},"outputs":{_dumps(outputs)},"truncated":false'
    if len(whole) <= budget:  # ASCII: characters are bytes
        return whole
    kept_rows: list[str] = []
    kept_outputs: list[str] = []
    used = len(',"inputs":[],"outputs":[],"truncated":true') + 1
    for row, output in zip(rows, outputs, strict=False):
        row_text, output_text = _dumps(row), _dumps(output)
        cost = len(row_text) + len(output_text) + 2
        if used + cost > budget:
            break
        kept_rows.append(row_text)
        kept_outputs.append(output_text)
        used += cost
    return (
        f',"inputs":[{",".join(kept_rows)}],"outputs":[{",".join(kept_outputs)}],"truncated":true'
    )


def _dumps(value: Any) -> str:
    # ASCII only: a raw line separator inside a string must not split the log event. NaN and
    # infinity are refused in requests and answers before this point.
    return json.dumps(value, separators=(",", ":"))


def _columns_named(excluded: frozenset[str], signature: Signature) -> frozenset[str]:
    """The signature's columns that ``excluded`` names, whatever their case: a setting that
    spells a personal column 'SSN' for the signature's 'ssn' must not let it through (two
    columns differing only in case are both left out). A name that matches no column is
    kept as written."""
    folded = {name.casefold() for name in excluded}
    columns = {c.name for c in signature.inputs if c.name.casefold() in folded}
    matched = {name.casefold() for name in columns}
    return frozenset(columns | {name for name in excluded if name.casefold() not in matched})


def _without(inputs: list[Any], excluded: frozenset[str], signature: Signature) -> list[Any]:
    positions = [i for i, column in enumerate(signature.inputs) if column.name in excluded]
    cleaned: list[Any] = []
    for row in inputs:
        if isinstance(row, dict):
            cleaned.append({k: v for k, v in row.items() if k not in excluded})
        else:
            row = list(row)
            for i in positions:
                if i < len(row):
                    row[i] = None
            cleaned.append(row)
    return cleaned


def feedback_line(model: str, labels: list[dict[str, Any]]) -> str:
    """The feedback line of one feedback request (true labels for captured rows)."""
    return (
        f'{{"message":"feedback","capture_format":{CAPTURE_FORMAT},"model":{json.dumps(model)},'
        f'"environment":{json.dumps(environment_name())},"time_ms":{int(time.time() * 1000)},'
        f'"labels":{_dumps(labels)}}}\n'
    )
