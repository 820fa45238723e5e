"""Drift of captured traffic against a bundle's baseline: per input column and per output.

    from model_runtime.monitoring.baseline import parse_baseline
    from model_runtime.monitoring.drift import Thresholds, compare

    baseline = parse_baseline(bundle_file_bytes)
    result = compare(baseline, inputs_frame, outputs_frame,
                     Thresholds.of(monitoring_settings()), excluded={"ssn"})
    result.drifted            # any column or output judged drifted
    result.as_json()          # the report's "drift" part (plain JSON types)

What is measured, per column (every figure on the current window's rows):

- **PSI** (population stability index) between the baseline's bin shares ``b`` and the
  current shares ``c`` over the same bins: ``sum((c - b) * ln(c / b))``. Numeric columns use
  the baseline's quantile bins, text columns the bins of their lengths, categorical columns
  one bin per top value plus one for every other value. Shares are of non-missing values;
  a share of 0 is taken as ``EPSILON`` (1e-4) so an empty bin counts as rare, not
  impossible. PSI is symmetric (swapping ``b`` and ``c`` gives the same value) and 0 only
  when the shares are equal. Bands: ``stable`` < 0.1 <= ``moderate`` < 0.25 <= ``major``.
- **missing rates**, the baseline's and the current one, and their difference.
- **unseen share**: the share of current non-missing values the training data did not have.
  Numeric: values below the baseline's min or above its max. Text: lengths outside the
  training lengths. Categorical: values not among the top values, counted only when the
  baseline listed every value it saw (``other_share`` 0); otherwise it cannot be told and
  is ``None``. Date-times: ``None`` (time moves on).

A column is judged drifted when one of these holds (``reasons`` says which):
PSI >= ``psi_alarm`` and above its sampling noise (below); the missing rate rose by
``missing_rate_alarm`` or more; the unseen share is ``unseen_alarm`` or more. The three are
the environment's (cdk.json ``monitoring``, registry/monitoring_settings.py). Date-time
columns are judged on their missing rate only.

Sampling noise: with ``n`` baseline and ``m`` current values over ``k`` bins, PSI of two
samples of one distribution is about ``chi2(k - 1) / (n m / (n + m))``; a PSI below that
distribution's 99.9th percentile is not called drift, so a window of a hundred rows does not
alarm on chance alone.

A column present now but not in the baseline is ``new``; one in the baseline but not sent
now is ``absent``; one the capture left out (``excluded``) is ``excluded``: none of these
is judged. Everything is vectorised: a million rows by ten columns take well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from model_runtime.monitoring.baseline import (
    Baseline,
    CategoricalProfile,
    DatetimeProfile,
    NumericProfile,
    TextProfile,
    bin_index,
    category_counts,
    missing_mask,
    numeric_values,
    text_lengths,
)
from registry.monitoring_settings import (
    DEFAULT_MISSING_RATE_ALARM,
    DEFAULT_PSI_ALARM,
    DEFAULT_UNSEEN_ALARM,
    MonitoringSettings,
)

EPSILON = 1e-4
STABLE_BELOW, MAJOR_FROM = 0.1, 0.25
# The default PSI alarm is the moderate band's start, not the major band's: a mean shift of
# half a standard deviation in a normal column gives a decile-binned PSI of about 0.2, and
# moving 20 points of a category mix gives 0.2-0.4; an alarm at 0.25 would miss many of them.
# With the noise floor (above) 0.1 does not alarm on unchanged data (bench/monitor.py
# measures both). The defaults are the settings' (one declaration, below this module), and
# tests/unit/test_drift.py holds DEFAULT_PSI_ALARM to STABLE_BELOW.
NOISE_QUANTILE_Z = 3.090  # the standard normal's 99.9th percentile

COMPARED, NEW, ABSENT, EXCLUDED = "compared", "new", "absent", "excluded"


@dataclass(frozen=True)
class Thresholds:
    """When a column counts as drifted (the environment's monitoring settings)."""

    psi_alarm: float = DEFAULT_PSI_ALARM
    missing_rate_alarm: float = DEFAULT_MISSING_RATE_ALARM
    unseen_alarm: float = DEFAULT_UNSEEN_ALARM

    @classmethod
    def of(
        cls, settings: Thresholds | MonitoringSettings | float | Mapping[str, Any] | None
    ) -> Thresholds:
        """From a ``Thresholds``, the environment's ``MonitoringSettings`` (or the
        ``monitoring`` section of cdk.json as a mapping, validated as those settings are:
        an unknown key or a threshold out of range is a ``ValueError``), or a PSI alarm
        alone."""
        if settings is None:
            return cls()
        if isinstance(settings, Thresholds):
            return settings
        if isinstance(settings, bool):
            raise ValueError(f"a PSI alarm is a number, not {settings!r}")
        if isinstance(settings, int | float):
            settings = {"psi_alarm": settings}  # validated below like the settings' own
        if not isinstance(settings, MonitoringSettings):
            settings = MonitoringSettings.model_validate(dict(settings))
        return cls(
            psi_alarm=settings.psi_alarm,
            missing_rate_alarm=settings.missing_rate_alarm,
            unseen_alarm=settings.unseen_alarm,
        )


@dataclass(frozen=True)
class ColumnDrift:
    """One column's (or output's) comparison; see the module's docstring for each figure."""

    column: str
    kind: str | None
    status: str  # compared | new | absent | excluded
    rows: int = 0  # current rows in the window (missing values included)
    psi: float | None = None
    band: str | None = None
    noise_floor: float | None = None
    missing_rate_baseline: float | None = None
    missing_rate_current: float | None = None
    missing_rate_change: float | None = None
    unseen_share: float | None = None
    drifted: bool = False
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DriftResult:
    """Every input column and output, ordered most drifted first (by PSI)."""

    rows: int
    thresholds: Thresholds
    columns: list[ColumnDrift]
    outputs: list[ColumnDrift]

    @property
    def drifted(self) -> bool:
        return any(item.drifted for item in self.columns + self.outputs)

    @property
    def drifted_columns(self) -> list[str]:
        return [item.column for item in self.columns if item.drifted]

    @property
    def drifted_outputs(self) -> list[str]:
        return [item.column for item in self.outputs if item.drifted]

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types: the report's drift part."""
        return {
            "rows": self.rows,
            "thresholds": asdict(self.thresholds),
            "drifted": self.drifted,
            "drifted_columns": self.drifted_columns,
            "drifted_outputs": self.drifted_outputs,
            "columns": [asdict(item) for item in self.columns],
            "outputs": [asdict(item) for item in self.outputs],
        }


def psi(baseline: Iterable[float], current: Iterable[float]) -> float:
    """PSI of two share vectors over the same bins (0 shares taken as ``EPSILON``)."""
    b = np.maximum(np.asarray(list(baseline), dtype=float), EPSILON)
    c = np.maximum(np.asarray(list(current), dtype=float), EPSILON)
    return float(np.sum((c - b) * np.log(c / b)))


def band(value: float) -> str:
    """stable < 0.1 <= moderate < 0.25 <= major."""
    if value < STABLE_BELOW:
        return "stable"
    return "moderate" if value < MAJOR_FROM else "major"


def noise_floor(bins: int, baseline_values: float, current_values: float) -> float:
    """The PSI two samples of one distribution exceed once in a thousand (chi-square with
    ``bins - 1`` degrees of freedom, Wilson-Hilferty's approximation)."""
    if bins < 2 or baseline_values <= 0 or current_values <= 0:
        return math.inf
    df = bins - 1
    quantile = df * (1 - 2 / (9 * df) + NOISE_QUANTILE_Z * math.sqrt(2 / (9 * df))) ** 3
    effective = baseline_values * current_values / (baseline_values + current_values)
    return quantile / effective


def compare(
    baseline: Baseline,
    current: Any,
    outputs: Any = None,
    thresholds: Thresholds | MonitoringSettings | float | Mapping[str, Any] | None = None,
    *,
    excluded: Iterable[str] = (),
) -> DriftResult:
    """Compare ``current`` (a pandas DataFrame of captured inputs, one row per row sent) and
    ``outputs`` (a DataFrame of the answers, columns named as the baseline's outputs, see
    ``baseline.outputs_frame``; ``None`` skips them) with ``baseline``. ``thresholds`` is a
    ``Thresholds``, a PSI alarm, or the monitoring settings; ``excluded`` names the columns
    the capture left out."""
    limits = Thresholds.of(thresholds)
    left_out = set(excluded)
    columns = _compare_all(
        baseline.columns, current, limits, left_out, baseline.rows, include_new=True
    )
    if outputs is None:
        judged_outputs: list[ColumnDrift] = []
    else:
        judged_outputs = _compare_all(
            baseline.outputs, outputs, limits, set(), baseline.output_rows, include_new=False
        )
    return DriftResult(
        rows=len(current), thresholds=limits, columns=columns, outputs=judged_outputs
    )


def _compare_all(
    profiles: Mapping[str, Any],
    frame: Any,
    limits: Thresholds,
    excluded: set[str],
    baseline_rows: int,
    *,
    include_new: bool,
) -> list[ColumnDrift]:
    results = []
    present = {str(name) for name in frame.columns}
    for name, profile in profiles.items():
        if name in excluded:
            results.append(ColumnDrift(name, profile.kind, EXCLUDED))
        elif name not in present:
            results.append(ColumnDrift(name, profile.kind, ABSENT, rows=len(frame)))
        else:
            results.append(_compare_column(name, profile, frame[name], limits, baseline_rows))
    if include_new:
        for name in sorted(present - set(profiles)):
            status = EXCLUDED if name in excluded else NEW
            results.append(ColumnDrift(name, None, status, rows=len(frame)))
    order = {COMPARED: 0, NEW: 1, ABSENT: 2, EXCLUDED: 3}
    return sorted(
        results, key=lambda item: (order[item.status], not item.drifted, -(item.psi or 0.0))
    )


def _compare_column(
    name: str, profile: Any, series: Any, limits: Thresholds, baseline_rows: int
) -> ColumnDrift:
    rows = len(series)
    if isinstance(profile, CategoricalProfile):
        # one hashing pass counts values and missing ones: strings read from JSON lie all
        # over memory, and each pass over them costs more than the arithmetic
        counts, missing_count = category_counts(series)
        missing_now = missing_count / rows if rows else 0.0
    else:
        missing = missing_mask(series)
        missing_now = float(missing.mean()) if rows else 0.0
        present = series[~missing]
    psi_value: float | None = None
    floor: float | None = None
    unseen: float | None = None
    baseline_present = baseline_rows * (1 - profile.missing_rate)
    if isinstance(profile, NumericProfile | TextProfile):
        if isinstance(profile, NumericProfile):
            values = numeric_values(present)
            edges, shares = profile.edges, profile.shares
        else:
            values = text_lengths(present)
            edges, shares = profile.length_edges, profile.length_shares
        values = values[~np.isnan(values)]
        if values.size and shares:
            counts = np.bincount(bin_index(values, edges), minlength=len(shares))
            psi_value = psi(shares, counts / values.size)
            floor = noise_floor(len(shares), baseline_present, values.size)
        if values.size and profile.min is not None and profile.max is not None:
            outside = np.count_nonzero((values < profile.min) | (values > profile.max))
            unseen = outside / values.size
    elif isinstance(profile, CategoricalProfile):
        total = sum(counts.values())
        if total and (profile.shares or profile.other_share):
            known = np.array([counts.get(key, 0) for key in profile.shares], dtype=float)
            others = total - known.sum()
            current_shares = np.append(known, others) / total
            baseline_shares = [*profile.shares.values(), profile.other_share]
            psi_value = psi(baseline_shares, current_shares)
            bins = len(profile.shares) + (1 if profile.other_share > 0 or others > 0 else 0)
            floor = noise_floor(bins, baseline_present, total)
            if profile.other_share == 0:
                unseen = others / total
    elif not isinstance(profile, DatetimeProfile):  # pragma: no cover - parse forbids it
        raise TypeError(f"unknown profile {type(profile).__name__}")
    change = missing_now - profile.missing_rate
    reasons = []
    if psi_value is not None and floor is not None and psi_value >= max(limits.psi_alarm, floor):
        reasons.append(f"psi {psi_value:.3f} >= {limits.psi_alarm:g}")
    if rows and change >= limits.missing_rate_alarm:
        reasons.append(f"missing rate rose by {change:.3f} (>= {limits.missing_rate_alarm:g})")
    if unseen is not None and unseen >= limits.unseen_alarm:
        reasons.append(f"unseen share {unseen:.3f} >= {limits.unseen_alarm:g}")
    return ColumnDrift(
        column=name,
        kind=profile.kind,
        status=COMPARED,
        rows=rows,
        psi=_rounded(psi_value),
        band=band(psi_value) if psi_value is not None else None,
        noise_floor=_rounded(floor) if floor is not None and math.isfinite(floor) else None,
        missing_rate_baseline=_rounded(profile.missing_rate),
        missing_rate_current=_rounded(missing_now),
        missing_rate_change=_rounded(change) if rows else None,
        unseen_share=_rounded(unseen),
        drifted=bool(reasons),
        reasons=reasons,
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)
