"""The baseline a bundle carries: what its training data and its model's outputs looked like.

    # packaging (model_runtime/packaging.py does this for every bundle)
    document = build_baseline(train_frame, signature.inputs, predictions, signature.outputs)
    (root / BASELINE_FILE).write_bytes(dumps(document))
    # Validate and the monitor job, on an opened (digest-checked) bundle
    baseline = bundle_baseline(bundle.root, bundle.manifest)  # None: packaged without one

The monitor job compares captured traffic with this profile (``drift.compare``). One profile
per input column, chosen by the column's signature type:

- ``numeric`` (float, int): inner bin edges at the training data's deciles (de-duplicated, so
  at most 10 bins), the share of non-missing values per bin, min, max, missing rate.
  A value ``x`` falls in bin ``i`` when ``edges[i-1] < x <= edges[i]``.
- ``categorical`` (bool, category, and string columns with few distinct values): the shares
  of the top values (at most 20) among non-missing values, the rest in ``other_share``.
  Values are keyed as text: strings as they are, booleans ``"true"``/``"false"``, integral
  numbers without a decimal point (``"3"``), other numbers by ``repr``.
- ``text`` (string columns whose values are mostly distinct, long, or sentences): the
  distribution of text lengths (characters), binned like a numeric column; ``min`` and
  ``max`` are lengths.
- ``datetime``: missing rate and the range (seconds since the epoch, UTC); time moves on, so
  its distribution is not judged.

Outputs are profiled the same way from the model's predictions on the evaluation data (the
training data when there is none): a classifier's labels as categorical, a regressor's values
as numeric (an integer output with more than 20 distinct values counts as numbers; at most
``packaging.BASELINE_PREDICTION_ROWS`` evaluation rows are predicted, a fixed sample). A
model answering several values per row (probabilities) is profiled per position,
``prediction[0]``, ``prediction[1]`` ..., up to ``MAX_OUTPUT_POSITIONS``.

Shares are those of non-missing values; missing means None, NaN, pd.NA or NaT.

The file is written by the uploader's machine, so ``parse_baseline`` trusts none of it:
its size is checked before it is parsed, every list and map is bounded, every number checked.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from model_runtime.exceptions import InvalidBaselineError
from model_runtime.manifest import Column, Manifest, describe_validation_error
from registry.strict_json import StrictJsonError, load_strict_json

BASELINE_FILE = "monitoring/baseline.json"
BASELINE_FORMAT = 1

MAX_BINS = 10
MAX_TOP_VALUES = 20
MAX_OUTPUT_POSITIONS = 10
MAX_COLUMNS = 2000
MAX_NAME_CHARS = 256
MAX_VALUE_CHARS = 100  # a categorical value longer than this makes its column text
# what build_baseline can write at most (2,000 categorical columns of 20 long values: about
# 5.5 MB) fits, so a bundle of ours is never refused for its own baseline
MAX_BASELINE_BYTES = 8 * 1024 * 1024
MAX_ROWS = 10**12
# a string column is free text when more than this share of its values are distinct ...
TEXT_DISTINCT_SHARE = 0.5
# ... or when its values' median length is above this many characters
TEXT_MEDIAN_CHARS = 40
# ... or when it has more distinct values than a profile keeps and most hold three words or more
TEXT_MEDIAN_SPACES = 2
# Shares must sum to 1 within this (they are written rounded).
SHARE_TOLERANCE = 1e-6


# The baseline file is malformed, too large, or does not fit the bundle's signature (a
# verdict on the bundle: Validate rejects it, naming the file and the problem).
BaselineError = InvalidBaselineError


# ---------------------------------------------------------------------------- the format


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Share = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Edge = Annotated[float, Field(allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]


def _check_bins(edges: list[float], shares: list[float], what: str) -> None:
    if not edges and not shares:
        return  # no values seen: nothing to compare with
    if len(shares) != len(edges) + 1:
        raise ValueError(f"{what}: {len(shares)} shares for {len(edges)} edges (need edges + 1)")
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"{what}: edges must increase strictly")
    if abs(sum(shares) - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"{what}: shares sum to {sum(shares)!r}, not 1")


class NumericProfile(_Strict):
    kind: Literal["numeric"]
    missing_rate: Share
    min: Edge | None = None
    max: Edge | None = None
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_BINS - 1)
    shares: list[Share] = Field(default_factory=list, max_length=MAX_BINS)

    @model_validator(mode="after")
    def _bins(self) -> NumericProfile:
        _check_bins(self.edges, self.shares, "edges/shares")
        if (self.min is None) != (self.max is None):
            raise ValueError("min and max come together")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        return self


class CategoricalProfile(_Strict):
    kind: Literal["categorical"]
    missing_rate: Share
    shares: dict[Annotated[str, Field(max_length=MAX_VALUE_CHARS)], Share] = Field(
        default_factory=dict, max_length=MAX_TOP_VALUES
    )
    other_share: Share = 0.0

    @model_validator(mode="after")
    def _sum(self) -> CategoricalProfile:
        total = sum(self.shares.values()) + self.other_share
        if (self.shares or self.other_share) and abs(total - 1.0) > SHARE_TOLERANCE:
            raise ValueError(f"shares and other_share sum to {total!r}, not 1")
        return self


class TextProfile(_Strict):
    kind: Literal["text"]
    missing_rate: Share
    min: Annotated[int, Field(ge=0)] | None = None
    max: Annotated[int, Field(ge=0)] | None = None
    length_edges: list[Edge] = Field(default_factory=list, max_length=MAX_BINS - 1)
    length_shares: list[Share] = Field(default_factory=list, max_length=MAX_BINS)

    @model_validator(mode="after")
    def _bins(self) -> TextProfile:
        _check_bins(self.length_edges, self.length_shares, "length_edges/length_shares")
        return self


class DatetimeProfile(_Strict):
    kind: Literal["datetime"]
    missing_rate: Share
    min: Edge | None = None
    max: Edge | None = None


Profile = Annotated[
    NumericProfile | CategoricalProfile | TextProfile | DatetimeProfile,
    Field(discriminator="kind"),
]


class Baseline(_Strict):
    """A parsed baseline file (see the module's docstring for what each profile holds)."""

    format: Literal[1]
    rows: Annotated[int, Field(ge=0, le=MAX_ROWS)]
    output_rows: Annotated[int, Field(ge=0, le=MAX_ROWS)] = 0
    columns: dict[Name, Profile] = Field(max_length=MAX_COLUMNS)
    outputs: dict[Name, Profile] = Field(default_factory=dict, max_length=MAX_OUTPUT_POSITIONS)

    def summary(self) -> dict[str, int]:
        """What the registry keeps of it: rows, columns and outputs profiled."""
        return {"rows": self.rows, "columns": len(self.columns), "outputs": len(self.outputs)}


def parse_baseline(raw: bytes | str) -> Baseline:
    """Read a baseline file; any problem is a :class:`BaselineError` naming the file and what
    is wrong. The size is checked before parsing, every count by the model's bounds."""
    if len(raw) > MAX_BASELINE_BYTES:
        raise BaselineError(
            f"{BASELINE_FILE} has {len(raw)} bytes; the limit is {MAX_BASELINE_BYTES}"
        )
    try:
        data = load_strict_json(raw)
    except StrictJsonError as exc:
        raise BaselineError(f"{BASELINE_FILE}: {exc}") from None
    try:
        return Baseline.model_validate(data)
    except ValidationError as exc:
        raise BaselineError(describe_validation_error(BASELINE_FILE, exc)) from None


def check_fits_signature(
    baseline: Baseline, input_names: Sequence[str], output_names: Sequence[str] = ()
) -> None:
    """Every column the baseline profiles must be an input of the signature, and every
    output it profiles one of the signature's outputs (``name`` or ``name[i]``)."""
    unknown = sorted(set(baseline.columns) - set(input_names))
    if unknown:
        shown = ", ".join(repr(name) for name in unknown[:10])
        raise BaselineError(
            f"{BASELINE_FILE} profiles {len(unknown)} column(s) that are not inputs of the "
            f"signature: {shown}"
        )
    if output_names:
        outputs = set(output_names)
        strange = sorted(name for name in baseline.outputs if _output_base(name) not in outputs)
        if strange:
            shown = ", ".join(repr(name) for name in strange[:10])
            raise BaselineError(
                f"{BASELINE_FILE} profiles output(s) the signature does not have: {shown}"
            )


def _output_base(name: str) -> str:
    """``prediction`` for ``prediction[3]``, the name itself otherwise."""
    base, bracket, rest = name.partition("[")
    return base if bracket and rest[:-1].isdigit() and rest.endswith("]") else name


def bundle_baseline(root: Path, manifest: Manifest) -> Baseline | None:
    """The baseline of an opened (digest-checked) bundle, checked against its signature;
    ``None`` for a bundle packaged without one (older bundles)."""
    if BASELINE_FILE not in manifest.files:
        return None
    path = root / BASELINE_FILE
    size = path.stat().st_size
    if size > MAX_BASELINE_BYTES:  # before reading it
        raise BaselineError(f"{BASELINE_FILE} has {size} bytes; the limit is {MAX_BASELINE_BYTES}")
    baseline = parse_baseline(path.read_bytes())
    signature = manifest.signature
    check_fits_signature(
        baseline,
        [column.name for column in signature.inputs],
        [column.name for column in signature.outputs],
    )
    return baseline


def baseline_summary(baseline: Baseline, manifest: Manifest) -> dict[str, Any]:
    """What the registry's version item says of the baseline (a few numbers and a digest)."""
    return {"file": BASELINE_FILE, "sha256": manifest.files[BASELINE_FILE], **baseline.summary()}


# ---------------------------------------------------------------------------- building


def build_baseline(
    frame: Any,
    columns: list[Column],
    outputs: Sequence[Any] | None,
    output_columns: list[Column],
) -> dict[str, Any]:
    """The baseline document (JSON-ready) of ``frame``, the training inputs (a pandas
    DataFrame; columns of the signature it lacks are left out), and of ``outputs``, the
    model's predictions, one per row (a scalar, or a list for multi-valued outputs), on
    the evaluation data; ``None`` profiles no output. ``output_columns`` is the signature's
    outputs (the first names the predictions)."""
    document: dict[str, Any] = {
        "format": BASELINE_FORMAT,
        "rows": len(frame),
        "output_rows": 0,
        "columns": {},
        "outputs": {},
    }
    # within what parse_baseline accepts: the first MAX_COLUMNS columns with short names
    profiled = [c for c in columns if c.name in frame.columns and len(c.name) <= MAX_NAME_CHARS]
    for column in profiled[:MAX_COLUMNS]:
        document["columns"][column.name] = profile_series(frame[column.name], column.type)
    if outputs is not None and output_columns:
        predictions = outputs_frame(outputs, [column.name for column in output_columns])
        document["output_rows"] = len(predictions)
        kinds = {column.name: column.type for column in output_columns}
        for name in [n for n in predictions.columns if len(n) <= MAX_NAME_CHARS]:
            kind = kinds.get(name, kinds.get(name.split("[")[0], "float"))
            document["outputs"][name] = profile_series(predictions[name], kind, output=True)
    return document


def dumps(document: dict[str, Any]) -> bytes:
    """The file's bytes: stable key order, so the same data gives the same bundle."""
    return json.dumps(document, indent=1, allow_nan=False).encode()


def outputs_frame(values: Sequence[Any], names: Sequence[str]) -> Any:
    """A DataFrame of predictions, one row per prediction, named as the baseline names them:
    scalars under the first output's name; lists under each output's name when they hold one
    value per output column, else per position ``name[i]`` (the first positions only)."""
    import pandas as pd

    first = names[0] if names else "prediction"
    values = values if isinstance(values, list) else list(values)
    series = pd.Series(values, dtype=object)
    if pd.api.types.infer_dtype(series, skipna=True) not in ("mixed", "mixed-integer"):
        return pd.DataFrame({first: series.infer_objects()})  # scalars: the common case
    if not any([isinstance(value, list | tuple | np.ndarray) for value in values]):
        return pd.DataFrame({first: series})
    sequence = (list, tuple, np.ndarray)
    width = max((len(v) for v in values if isinstance(v, sequence)), default=0)
    if len(names) > 1 and width == len(names):
        labels = list(names)
    else:
        labels = [f"{first}[{i}]" for i in range(max(min(width, MAX_OUTPUT_POSITIONS), 1))]
    size = len(labels)
    rows = [
        ([*list(v)[:size], *[None] * (size - len(v))] if isinstance(v, sequence) else [v])
        + [None] * (size - 1 if not isinstance(v, sequence) else 0)
        for v in values
    ]
    return pd.DataFrame(rows, columns=labels)


def kind_of(column_type: str, series: Any = None, *, output: bool = False) -> str:
    """The profile kind for a signature type; a string column is text or categorical by its
    values, an integer output (a class label, or a count) categorical if it has few values."""
    if column_type == "float":
        return "numeric"
    if column_type == "int":
        if output and series is not None:
            distinct = series.dropna().nunique()
            return "categorical" if distinct <= MAX_TOP_VALUES else "numeric"
        return "numeric"
    if column_type == "datetime":
        return "datetime"
    if column_type in ("bool", "category"):
        return "categorical"
    if series is None:
        return "categorical"
    return "text" if _looks_like_text(series) else "categorical"


def _looks_like_text(series: Any) -> bool:
    values = series.dropna()
    if values.empty:
        return False
    texts = values.astype(str)
    distinct = texts.nunique()
    if distinct > MAX_TOP_VALUES and distinct / len(texts) > TEXT_DISTINCT_SHARE:
        return True
    lengths = texts.str.len()
    if float(lengths.median()) > TEXT_MEDIAN_CHARS:
        return True
    if distinct > MAX_TOP_VALUES and float(texts.str.count(" ").median()) >= TEXT_MEDIAN_SPACES:
        return True  # sentences: many distinct values of several words each
    top = texts.value_counts().index[:MAX_TOP_VALUES]
    return any(len(value) > MAX_VALUE_CHARS for value in top)


def profile_series(series: Any, column_type: str, *, output: bool = False) -> dict[str, Any]:
    """One column's profile (a JSON-ready dict) from a pandas Series."""
    kind = kind_of(column_type, series, output=output)
    missing = missing_mask(series)
    rate = float(missing.mean()) if len(series) else 0.0
    present = series[~missing]
    if kind == "numeric":
        return {"kind": "numeric", "missing_rate": rate, **_binned(numeric_values(present))}
    if kind == "datetime":
        seconds = datetime_seconds(present)
        seconds = seconds[~np.isnan(seconds)]
        bounds = {"min": float(seconds.min()), "max": float(seconds.max())} if seconds.size else {}
        return {"kind": "datetime", "missing_rate": rate, **bounds}
    if kind == "categorical":
        counts, _ = category_counts(present)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        if all(len(key) <= MAX_VALUE_CHARS for key, _ in ranked[:MAX_TOP_VALUES]):
            return _categorical(ranked, rate)
        kind = "text"  # values too long to keep: their lengths are profiled instead
    if kind == "text":
        binned = _binned(text_lengths(present))
        profile = {"kind": "text", "missing_rate": rate}
        if "min" in binned:
            profile["min"], profile["max"] = int(binned["min"]), int(binned["max"])
        profile["length_edges"], profile["length_shares"] = binned["edges"], binned["shares"]
        return profile
    raise AssertionError(f"unknown profile kind {kind}")  # pragma: no cover


def _categorical(ranked: list[tuple[str, int]], rate: float) -> dict[str, Any]:
    total = sum(count for _, count in ranked)
    top = ranked[:MAX_TOP_VALUES]
    shares = {key: count / total for key, count in top} if total else {}
    other = 1.0 - sum(shares.values()) if total else 0.0
    return {
        "kind": "categorical",
        "missing_rate": rate,
        "shares": shares,
        "other_share": max(other, 0.0) if len(ranked) > len(top) else 0.0,
    }


def _binned(values: np.ndarray) -> dict[str, Any]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"edges": [], "shares": []}
    # observed values as edges: a discrete column gets one bin per value, never a bin between
    quantiles = np.quantile(values, np.arange(1, MAX_BINS) / MAX_BINS, method="inverted_cdf")
    edges = np.unique(quantiles)
    if edges.size and edges[-1] >= values.max():
        edges = edges[:-1]  # an edge at the maximum would leave its last bin empty
    counts = np.bincount(bin_index(values, edges), minlength=edges.size + 1)
    shares = counts / values.size
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "edges": [float(edge) for edge in edges],
        "shares": [float(share) for share in shares],
    }


# ------------------------------------------------- reading values: shared with drift.py


def bin_index(values: np.ndarray, edges: Sequence[float] | np.ndarray) -> np.ndarray:
    """The bin of each value: ``i`` when ``edges[i-1] < x <= edges[i]``."""
    return np.searchsorted(np.asarray(edges, dtype=float), values, side="left")


def missing_mask(series: Any) -> np.ndarray:
    """True where a value is missing (None, NaN, pd.NA, NaT)."""
    return series.isna().to_numpy(dtype=bool)


def numeric_values(series: Any) -> np.ndarray:
    """Float values of a Series (booleans as 0/1; what is not a number becomes NaN)."""
    import pandas as pd

    if series.dtype.kind in "fiu":
        return series.to_numpy(dtype=float, na_value=np.nan)
    if series.dtype.kind == "b":
        return series.to_numpy(dtype=float, na_value=np.nan)
    converted = pd.to_numeric(series, errors="coerce")
    return converted.to_numpy(dtype=float, na_value=np.nan)


def text_lengths(series: Any) -> np.ndarray:
    """Characters per value (non-strings as their text)."""
    import pandas as pd

    if not pd.api.types.is_string_dtype(series.dtype) or (
        series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) != "string"
    ):
        series = series.astype(str)
    return series.str.len().to_numpy(dtype=float, na_value=np.nan)


def datetime_seconds(series: Any) -> np.ndarray:
    """Seconds since the epoch (UTC) of date-time values or ISO 8601 texts; NaN if not one."""
    import pandas as pd

    if series.empty:
        return np.empty(0)
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = series.astype(str)  # numbers are not epochs here: everything read as text
    try:
        stamps = pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601")
    except (TypeError, ValueError):
        stamps = pd.to_datetime(series.astype(str), errors="coerce", utc=True, format="mixed")
    nanos = stamps.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
    nanos[stamps.isna().to_numpy()] = np.nan
    return nanos / 1e9


def category_counts(series: Any) -> tuple[dict[str, int], int]:
    """(how many values have each key, how many values are missing), in one hashing pass:
    keys are made from the distinct values only, so a million rows cost one factorize.
    Values Python holds equal share a key (``True``, ``1`` and ``1.0`` in one object
    column count as the first of them seen)."""
    import pandas as pd

    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    present = codes[codes >= 0]
    counts = np.bincount(present, minlength=len(uniques))
    keyed: dict[str, int] = {}
    for value, count in zip(uniques, counts.tolist(), strict=True):
        key = value_key(value)
        keyed[key] = keyed.get(key, 0) + count
    return keyed, len(codes) - len(present)


def category_keys(series: Any) -> Any:
    """Each value's key as the baseline writes it (see the module's docstring)."""
    import pandas as pd

    if series.empty:
        return series.astype(object)
    if series.dtype.kind == "b":
        return pd.Series(np.where(series.to_numpy(), "true", "false"), index=series.index)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred == "string":
        return series
    if inferred == "boolean":
        return series.map(lambda value: "true" if value else "false")
    if inferred == "integer":
        return series.astype("int64").astype(str)
    return series.map(value_key)


def value_key(value: Any) -> str:
    """The key of one value (see the module's docstring)."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isfinite(number) and number.is_integer() and abs(number) < 2**63:
            return str(int(number))
        return repr(number)
    return str(value)
