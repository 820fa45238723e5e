"""A monitor report: one version's traffic in one window, judged against its baseline and,
where clients sent labels, against its evaluation score.

The report is a JSON document in the artifact bucket (every column); its summary (the
verdict, the worst columns, the live metric, where the report is) goes to the registry under
the version, for ``slipway monitor``, the registry API and the lineage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from model_runtime.monitoring.quality import QualityResult
from registry.monitoring_reports import Role, Verdict, window_end_text
from registry.monitoring_settings import MonitoringSettings

REPORT_FORMAT = 1
# How many of the most drifted columns the registry's summary keeps (the report has all).
SUMMARY_COLUMNS = 10
# How many drifted columns' names a summary and an event carry at most: a DynamoDB item
# holds 400 KB and an EventBridge entry 256 KB, and a baseline may profile 2000 columns of
# 256-character names (the report has every one; ``drifted_count`` says how many).
NAMED_DRIFTED = 50


@dataclass(frozen=True)
class Window:
    """The traffic a report judges: requests captured at ``start`` <= time < ``end``."""

    start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, hours: int) -> Window:
        end = end.astimezone(UTC).replace(microsecond=0)
        return cls(end - timedelta(hours=hours), end)

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "hours": round((self.end - self.start).total_seconds() / 3600, 3),
            "end_key": window_end_text(self.end),
        }


def _finite(value: Any) -> float | None:
    """A number JSON (and DynamoDB) can hold: NaN and infinities become None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def drifted_columns(columns: list[dict[str, Any]]) -> list[str]:
    """Columns (inputs and outputs) the drift comparison judged drifted (PSI at or above
    the environment's alarm and above sampling noise, a missing rate risen, unseen values;
    model_runtime/monitoring/drift.py)."""
    return [str(c["column"]) for c in columns if c.get("drifted")]


def verdict(
    *, has_baseline: bool, rows: int, min_rows: int, drifted: bool, degraded: bool
) -> Verdict:
    """The one word a report leads with, the worst that applies: a quality drop needs only
    labels; drift needs a baseline and enough rows to be judged."""
    if degraded:
        return Verdict.QUALITY
    if not has_baseline:
        return Verdict.NO_BASELINE
    if rows < min_rows:
        return Verdict.NO_TRAFFIC
    if drifted:
        return Verdict.DRIFT
    return Verdict.OK


def _most_drifted(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drifted columns first, then by PSI, columns without a PSI (nothing to compare) last in
    their group: a column drifts by its missing rate or its unseen values with a PSI near 0,
    and it must still lead the summary's top columns and ``slipway monitor``."""
    return sorted(columns, key=lambda c: (not c.get("drifted"), -(_finite(c.get("psi")) or -1.0)))


def build_report(
    *,
    model: str,
    version: str,
    role: Role,
    environment: str,
    window: Window,
    settings: MonitoringSettings,
    requests: int,
    rows: int,
    baseline_present: bool,
    drift: dict[str, Any] | None,
    quality: QualityResult | None,
    truncated: str | None,
    location: str,
    generated_at: datetime,
) -> dict[str, Any]:
    """The report document. ``drift`` is ``DriftResult.as_json()`` (None without a
    baseline or without a captured row); ``truncated`` says which limit of the run cut the
    window short, if any."""
    inputs = _most_drifted(list((drift or {}).get("columns", [])))
    outputs = _most_drifted(list((drift or {}).get("outputs", [])))
    judged = [*inputs, *outputs]
    drifted = drifted_columns(_most_drifted(judged)) if drift is not None else []
    psis = [p for p in (_finite(c.get("psi")) for c in judged) if p is not None]
    degraded = bool(quality and quality.degraded)
    enough = rows >= settings.min_rows
    decided = verdict(
        has_baseline=baseline_present,
        rows=rows,
        min_rows=settings.min_rows,
        drifted=bool(drifted) and enough,
        degraded=degraded,
    )
    return {
        "format": REPORT_FORMAT,
        "model": model,
        "version": version,
        "role": role.value,
        "environment": environment,
        "window": window.as_json(),
        "generated_at": generated_at.astimezone(UTC).isoformat(timespec="seconds"),
        "verdict": decided.value,
        "drifted": bool(drifted) and enough,
        "degraded": degraded,
        "requests": requests,
        "rows": rows,
        "truncated": truncated,
        "thresholds": {
            "psi_alarm": settings.psi_alarm,
            "missing_rate_alarm": settings.missing_rate_alarm,
            "unseen_alarm": settings.unseen_alarm,
            "quality_drop_alarm": settings.quality_drop_alarm,
            "min_rows": settings.min_rows,
        },
        "baseline": {
            "present": baseline_present,
            "note": None if baseline_present else "the bundle carries no baseline",
        },
        "max_psi": max(psis) if psis else None,
        "drifted_columns": drifted if enough else [],
        "drifted_count": len(drifted) if enough else 0,
        "columns": [_clean(c) for c in inputs],
        "outputs": [_clean(c) for c in outputs],
        "quality": quality.as_json() if quality else None,
        "report": location,
    }


def _clean(column: dict[str, Any]) -> dict[str, Any]:
    return {k: (_finite(v) if isinstance(v, float) else v) for k, v in column.items()}


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """What the registry keeps of a report: all but the long tail of columns."""
    top = [*report["columns"], *report["outputs"]]
    top = _most_drifted(top)[:SUMMARY_COLUMNS]
    kept = {k: v for k, v in report.items() if k not in ("columns", "outputs", "format")}
    kept["drifted_columns"] = report["drifted_columns"][:NAMED_DRIFTED]
    return {**kept, "top_columns": top}
