"""`slipway monitor`: monitor reports as a person reads them (verdict first, the columns that
drifted most, a small chart of the last reports), and the job run on demand."""

from __future__ import annotations

import json
from typing import Any

from registry.monitoring_settings import parse_window
from slipway.errors import CliError

SPARKS = "▁▂▃▄▅▆▇█"
SHOWN_COLUMNS = 5
VERDICT_STYLE = {
    "ok": "bold green",
    "drift": "bold red",
    "quality": "bold red",
    "no_baseline": "yellow",
    "no_traffic": "yellow",
}


def window_hours(text: str | None) -> int | None:
    """``24h`` or ``7d`` as hours, as the registry API and the job take them."""
    if text is None:
        return None
    try:
        return parse_window(text)
    except ValueError as exc:
        raise CliError(f"--{exc}") from None


def sparkline(values: list[float | None]) -> str:
    """One character per value, its height between the smallest and largest shown; a
    space where a report had no value."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = high - low
    chars = []
    for value in values:
        if value is None:
            chars.append(" ")
        elif span == 0:
            chars.append(SPARKS[0] if high == 0 else SPARKS[len(SPARKS) // 2])
        else:
            chars.append(SPARKS[round((value - low) / span * (len(SPARKS) - 1))])
    return "".join(chars)


def _percent(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def _number(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def _verdict_words(verdict: str, drifted: list[str] | None) -> str:
    """The verdict in capitals; a quality drop that comes with drift says both."""
    words = verdict.upper().replace("_", " ")
    return f"{words} and DRIFT" if verdict == "quality" and drifted else words


def column_line(column: dict[str, Any]) -> str:
    mark = " drifted" if column.get("drifted") else ""
    band = f" {column['band']}" if column.get("band") else ""
    status = column.get("status")
    if status and status != "compared":
        return f"{column['column']}: {status}"
    return (
        f"{column['column']}: PSI {_number(column.get('psi'))}{band}{mark}; missing "
        f"{_percent(column.get('missing_rate_baseline'))} -> "
        f"{_percent(column.get('missing_rate_current'))}; unseen "
        f"{_percent(column.get('unseen_share'))}"
    )


def quality_line(quality: dict[str, Any] | None) -> str | None:
    if not quality:
        return None
    if quality.get("live_value") is None:
        return f"live {quality['metric']}: not computed ({quality.get('error')})"
    line = (
        f"live {quality['metric']} {_number(quality['live_value'])} on "
        f"{quality['labelled_rows']} labelled rows"
    )
    if quality.get("evaluation_value") is not None:
        line += (
            f" (evaluation {_number(quality['evaluation_value'])}, worse by "
            f"{_number(quality.get('drop'))})"
        )
    if quality.get("degraded"):
        return line + " - degraded"
    note = quality.get("note")  # why no verdict: too few labels, within the alarm or noise
    return line + (f" - {note}" if note else "")


def render(answer: dict[str, Any], hours: int | None) -> list[str]:
    """The lines `slipway monitor NAME` prints (rich markup), newest report first."""
    reports = answer["reports"]
    if hours is not None:
        reports = [r for r in reports if round(float(r["window"]["hours"])) == hours]
    name, version = answer["model"], answer["version"]
    if not reports:
        return [
            f"{name} {version}: no monitor report yet"
            + (f" over a {hours} h window" if hours else "")
            + f"; `slipway monitor run {name}` runs the job now"
        ]
    newest = reports[0]
    verdict = newest["verdict"]
    style = VERDICT_STYLE.get(verdict, "bold")
    window = newest["window"]
    headline = _verdict_words(verdict, newest.get("drifted_columns"))
    lines = [
        f"[{style}]{name} {version}: {headline}[/] "
        f"({newest.get('role', 'live')}; {window['start']} -> {window['end']}, "
        f"{newest.get('rows', 0)} rows in {newest.get('requests', 0)} requests)"
    ]
    if newest.get("truncated"):
        lines.append(f"[yellow]the run read part of the window: {newest['truncated']}[/]")
    if verdict == "no_baseline":
        lines.append("the bundle carries no baseline: package it again to get drift reports")
    columns = newest.get("top_columns") or []
    if columns:
        lines.append("columns that drifted most:")
        lines.extend(f"  {column_line(c)}" for c in columns[:SHOWN_COLUMNS])
    quality = quality_line(newest.get("quality"))
    if quality:
        lines.append(quality)
    history = list(reversed(reports))  # oldest first, as a chart reads
    psis = [r.get("max_psi") for r in history]
    if any(p is not None for p in psis):
        known = [p for p in psis if p is not None]
        lines.append(
            f"max PSI, last {len(history)} reports: {sparkline(psis)} "
            f"({_number(min(known))} .. {_number(max(known))})"
        )
    metrics = [(r.get("quality") or {}).get("live_value") for r in history]
    if any(m is not None for m in metrics):
        metric = next(
            (r["quality"]["metric"] for r in history if (r.get("quality") or {}).get("metric")),
            "live metric",
        )
        lines.append(f"{metric}, last {len(history)} reports: {sparkline(metrics)}")
    lines.append(f"report: {newest['report']}")
    return lines


def invoke_job(target: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Run the environment's monitor job now and wait for its answer (it may take minutes:
    one attempt, a read timeout longer than Lambda's longest run)."""
    from botocore.config import Config

    name = target.outputs.get("MonitorFunctionName")
    if not name:
        raise CliError(
            f"environment {target.config.name} has no monitor job; deploy it again "
            "(its monitoring stack names the job in MonitorFunctionName)"
        )
    endpoint = target.local_state.endpoint_url if target.local_state else None
    client = target.session.client(
        "lambda",
        endpoint_url=endpoint,
        config=Config(read_timeout=905, retries={"mode": "standard", "total_max_attempts": 1}),
    )
    answer = client.invoke(FunctionName=name, Payload=json.dumps(request).encode())
    payload = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        raise CliError(f"the monitor job failed: {message}")
    return dict(payload)


def render_run(answer: dict[str, Any]) -> list[str]:
    """The lines `slipway monitor run` prints: each version's verdict, then failures."""
    lines = []
    window = answer["window"]
    for report in answer["reports"]:
        style = VERDICT_STYLE.get(report["verdict"], "bold")
        drifted = report.get("drifted_columns") or []
        detail = f"; drifted: {', '.join(drifted)}" if drifted else ""
        quality = quality_line(report.get("quality"))
        detail += f"; {quality}" if quality else ""
        lines.append(
            f"[{style}]{report['model']} {report['version']} ({report['role']}): "
            f"{_verdict_words(report['verdict'], drifted)}[/]{detail}"
        )
        lines.append(f"  {report['report']}")
    for failure in answer["failures"]:
        lines.append(
            f"[bold red]{failure['model']} {failure['version']}: failed[/]: {failure['error']}"
        )
    if not answer["reports"] and not answer["failures"]:
        lines.append("no live version to judge")
    if answer.get("truncated"):
        lines.append(f"[yellow]the run read part of the window: {answer['truncated']}[/]")
    lines.insert(0, f"window {window['start']} -> {window['end']}")
    return lines
