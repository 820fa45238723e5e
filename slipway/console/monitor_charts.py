"""A version's monitor reports as charts: the most drifted columns' PSI per window against
the 0.1 / 0.25 bands, and the live metric against the evaluation score, each followed by a
table of the same numbers (its text equivalent).

The input is the ``monitoring`` list of ``GET /v1/models/{name}/versions/{version}`` (or the
``reports`` of ``GET /v1/models/{name}/monitoring``): the summaries the monitor job stores
(model_runtime/monitoring/report.py ``summary``), newest first. The layout is computed here:
the same reports always draw the same picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from slipway.console.humanize import (
    DASH,
    decimal,
    mapping,
    number,
    sequence,
    short_time,
    text,
    timestamp,
    truncated,
)

MAX_REPORTS = 20
MAX_COLUMNS = 10
MAX_COLUMN_NAME = 200
COLUMN_CHARS = 28
NAMED_DRIFTED = 5
# PSI's customary bands (model_runtime/monitoring/drift.py band()).
STABLE_BELOW = 0.1
MAJOR_FROM = 0.25
# The PSI axis grows to the largest value up to this; larger ones sit on its top edge.
PSI_AXIS_STEPS = (0.3, 0.5, 1.0, 2.0, 5.0, 10.0)

# Chart geometry (SVG user units).
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 84, 14, 44
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MAX_X_LABELS = 8
# Colours for when the stylesheet is missing; the stylesheet sets them (and dark mode), and
# every series also has its own dash pattern, so lines differ by more than colour.
PALETTE = (
    "#1f5fbf", "#c2410c", "#15803d", "#7e22ce", "#b91c1c",
    "#0e7490", "#a16207", "#be185d", "#4d7c0f", "#475569",
)  # fmt: skip
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 4", "10 4", "4 2 1 2", "3 6", "12 3 3 3", "5 5")

VERDICTS: dict[str, tuple[str, str]] = {
    "ok": ("✓", "OK"),
    "drift": ("⚠", "Drift"),
    "quality": ("⚠", "Quality drop"),
    "no_baseline": ("○", "No baseline"),
    "no_traffic": ("○", "No traffic"),
}


@dataclass(frozen=True)
class Report:
    """What the charts read of one summary, every field checked."""

    end: str
    label: str
    window: str
    role: str
    verdict: str
    rows: float | None
    max_psi: float | None
    drifted: list[str]
    drifted_count: int
    psi: dict[str, float | None]
    metric: str
    direction: str
    live: float | None
    evaluation: float | None
    note: str


def monitor_charts(reports: list[dict[str, Any]]) -> Markup:
    """The charts and tables of up to ``MAX_REPORTS`` newest reports, oldest left; a
    sentence when there is none."""
    read = _newest(sequence(reports))
    if not read:
        return Markup('<p class="monitor-empty">No monitor report yet.</p>')
    columns = _worst_columns(read)
    parts = [Markup('<div class="monitor">'), _headline(read[-1])]
    if columns:
        parts.append(_psi_chart(read, columns))
        parts.append(_psi_table(read, columns))
    else:
        parts.append(Markup('<p class="monitor-note">The reports name no compared column.</p>'))
    if any(r.live is not None or r.evaluation is not None for r in read):
        parts.append(_quality_chart(read))
    parts.append(_reports_table(read))
    parts.append(Markup("</div>"))
    return Markup("").join(parts)


def _newest(reports: list[Any]) -> list[Report]:
    """The newest reports by window end, oldest first (the API sends newest first; a damaged
    list in any order draws the same)."""
    read = [_report(mapping(r)) for r in reports if isinstance(r, dict)]
    ordered = sorted(enumerate(read), key=lambda pair: (pair[1].end, -pair[0]))
    return [report for _, report in ordered][-MAX_REPORTS:]


def _report(summary: dict[str, Any]) -> Report:
    window = mapping(summary.get("window"))
    end = text(window.get("end") or window.get("end_key"))[:64]
    hours = number(window.get("hours"))
    span = f"{timestamp(window.get('start'))} to {timestamp(window.get('end'))}"
    if hours is not None:
        span += f" ({hours:g} h)"
    psi: dict[str, float | None] = {}
    for column in sequence(summary.get("top_columns"))[: MAX_COLUMNS * 5]:
        column = mapping(column)
        name = text(column.get("column"))[:MAX_COLUMN_NAME]
        if name and name not in psi:
            psi[name] = number(column.get("psi"))
    quality = mapping(summary.get("quality"))
    drifted = [text(c)[:MAX_COLUMN_NAME] for c in sequence(summary.get("drifted_columns"))[:50]]
    count = number(summary.get("drifted_count"))
    notes = [text(summary.get("truncated")), text(quality.get("note")), text(quality.get("error"))]
    return Report(
        end=end,
        label=short_time(window.get("end") or window.get("end_key")),
        window=span,
        role=text(summary.get("role"))[:20] or "live",
        verdict=text(summary.get("verdict"))[:40],
        rows=number(summary.get("rows")),
        max_psi=number(summary.get("max_psi")),
        drifted=drifted,
        drifted_count=int(count) if count is not None else len(drifted),
        psi=psi,
        metric=text(quality.get("metric"))[:40],
        direction=text(quality.get("direction"))[:20],
        live=number(quality.get("live_value")),
        evaluation=number(quality.get("evaluation_value")),
        note=truncated("; ".join(n for n in notes if n), 300)[0],
    )


def _worst_columns(reports: list[Report]) -> list[str]:
    """The columns whose PSI rose highest in the shown windows (name breaks ties)."""
    worst: dict[str, float] = {}
    for report in reports:
        for column, value in report.psi.items():
            worst[column] = max(worst.get(column, -1.0), -1.0 if value is None else value)
    return sorted(worst, key=lambda c: (-worst[c], c))[:MAX_COLUMNS]


def _verdict_badge(verdict: str) -> Markup:
    icon, words = VERDICTS.get(verdict, ("?", verdict.replace("_", " ") or "unknown"))
    css = verdict if verdict in VERDICTS else "unknown"
    return Markup(
        '<span class="badge badge-{}"><span aria-hidden="true">{}</span> {}</span>'
    ).format(css.replace("_", "-"), icon, words)


def _headline(newest: Report) -> Markup:
    bits = [
        Markup("Newest report ({}, window {}): {}").format(
            newest.role, newest.window, _verdict_badge(newest.verdict)
        )
    ]
    if newest.drifted_count:
        bits.append(
            Markup("{} drifted: {}").format(_count(newest.drifted_count, "column"), _names(newest))
        )
    if newest.live is not None:
        bits.append(
            Markup("live {} {} (evaluation {})").format(
                newest.metric or "metric", decimal(newest.live), decimal(newest.evaluation)
            )
        )
    return Markup('<p class="monitor-headline">{}</p>').format(Markup("; ").join(bits))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _names(report: Report) -> str:
    shown = [truncated(c, COLUMN_CHARS)[0] for c in report.drifted[:NAMED_DRIFTED]]
    more = report.drifted_count - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


# -- charts -----------------------------------------------------------------------------------


def _x(index: int, count: int) -> float:
    return LEFT + (index + 0.5) * PLOT_W / count


def _y(value: float, low: float, high: float) -> float:
    share = (min(max(value, low), high) - low) / (high - low)
    return TOP + PLOT_H - share * PLOT_H


def _f(value: float) -> str:
    """A coordinate with one decimal: the same input, byte for byte the same SVG."""
    return f"{value:.1f}"


def _x_axis(reports: list[Report]) -> list[Markup]:
    step = math.ceil(len(reports) / MAX_X_LABELS)
    parts = [
        Markup('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#888"/>').format(
            LEFT, TOP + PLOT_H, LEFT + PLOT_W, TOP + PLOT_H
        )
    ]
    for index, report in enumerate(reports):
        if index % step == 0:
            parts.append(
                Markup(
                    '<text class="tick" x="{}" y="{}" text-anchor="middle" fill="#444">{}</text>'
                ).format(_f(_x(index, len(reports))), TOP + PLOT_H + 18, report.label)
            )
    parts.append(
        Markup(
            '<text class="axis-title" x="{}" y="{}" text-anchor="middle" fill="#444">'
            "window end (UTC)</text>"
        ).format(LEFT + PLOT_W // 2, HEIGHT - 6)
    )
    return parts


def _y_tick(value: float, low: float, high: float, digits: int) -> Markup:
    y = _f(_y(value, low, high))
    return Markup(
        '<line class="grid" x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="#ddd"/>'
        '<text class="tick" x="{tx}" y="{ty}" text-anchor="end" fill="#444">{v}</text>'
    ).format(
        l=LEFT, r=LEFT + PLOT_W, y=y, tx=LEFT - 6, ty=_f(float(y) + 4), v=f"{value:.{digits}f}"
    )


def _series(
    index: int, name: str, values: list[float | None], low: float, high: float, unit: str
) -> Markup:
    """One line (broken where a window has no value) with a marker per known value."""
    count = len(values)
    colour, dash = PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)]
    dash_attr = Markup(' stroke-dasharray="{}"').format(dash) if dash else ""
    parts = [Markup('<g class="series series-{}">').format(index)]
    run: list[str] = []
    for i, value in enumerate([*values, None]):
        if value is not None:
            run.append(f"{_f(_x(i, count))},{_f(_y(value, low, high))}")
        elif run:
            if len(run) > 1:
                parts.append(
                    Markup(
                        '<polyline class="line" points="{}" fill="none" stroke="{}" '
                        'stroke-width="2"{}/>'
                    ).format(" ".join(run), colour, dash_attr)
                )
            run = []
    for i, value in enumerate(values):
        if value is None:
            continue
        clipped = " clipped" if value > high else ""
        parts.append(
            Markup(
                '<circle class="point{}" cx="{}" cy="{}" r="3.5" fill="{}"><title>{}: {} {}'
                "{}</title></circle>"
            ).format(
                clipped,
                _f(_x(i, count)),
                _f(_y(value, low, high)),
                colour,
                truncated(name, MAX_COLUMN_NAME)[0],
                unit,
                decimal(value),
                " (above the chart's scale)" if clipped else "",
            )
        )
    parts.append(Markup("</g>"))
    return Markup("").join(parts)


def _legend(names: list[str]) -> Markup:
    items = []
    for index, name in enumerate(names):
        colour, dash = PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)]
        dash_attr = Markup(' stroke-dasharray="{}"').format(dash) if dash else ""
        shown, cut = truncated(name, COLUMN_CHARS)
        items.append(
            Markup(
                '<li class="series series-{i}"><svg class="swatch" width="30" height="10" '
                'viewBox="0 0 30 10" aria-hidden="true" focusable="false"><line class="line" '
                'x1="1" y1="5" x2="29" y2="5" stroke="{c}" stroke-width="2.5"{d}/></svg> '
                "<span{t}>{n}</span></li>"
            ).format(
                i=index,
                c=colour,
                d=dash_attr,
                t=Markup(' title="{}"').format(name) if cut else "",
                n=shown,
            )
        )
    return Markup('<ul class="chart-legend" aria-label="Legend">{}</ul>').format(
        Markup("").join(items)
    )


def _psi_axis_top(reports: list[Report], columns: list[str]) -> float:
    values = [r.psi.get(c) for r in reports for c in columns]
    largest = max([v for v in values if v is not None] or [0.0])
    return next((step for step in PSI_AXIS_STEPS if largest <= step), PSI_AXIS_STEPS[-1])


def _psi_chart(reports: list[Report], columns: list[str]) -> Markup:
    high = _psi_axis_top(reports, columns)
    y_moderate, y_major, y_top = (_y(v, 0.0, high) for v in (STABLE_BELOW, MAJOR_FROM, high))
    label = (
        f"Line chart: PSI of the {_count(len(columns), 'most drifted column')} over "
        f"{_count(len(reports), 'monitor window')}, against the bands 0.1 (moderate) and "
        "0.25 (major); the table after it gives every value."
    )
    parts = [
        Markup(
            '<figure class="chart chart-psi"><svg class="chart-svg" viewBox="0 0 {w} {h}" '
            'width="{w}" height="{h}" role="img" aria-label="{label}">'
        ).format(w=WIDTH, h=HEIGHT, label=label),
        Markup(
            '<rect class="band band-moderate" x="{x}" y="{y1}" width="{w}" height="{h1}" '
            'fill="#fff4d6"/><rect class="band band-major" x="{x}" y="{y2}" width="{w}" '
            'height="{h2}" fill="#fde2e1"/>'
        ).format(
            x=LEFT,
            w=PLOT_W,
            y1=_f(y_major),
            h1=_f(y_moderate - y_major),
            y2=_f(y_top),
            h2=_f(y_major - y_top),
        ),
    ]
    ticks = sorted({0.0, STABLE_BELOW, MAJOR_FROM, high} | ({high / 2} if high >= 1 else set()))
    parts.extend(_y_tick(v, 0.0, high, 2) for v in ticks)
    for value, words in ((STABLE_BELOW, "0.1 moderate"), (MAJOR_FROM, "0.25 major")):
        y = _f(_y(value, 0.0, high))
        parts.append(
            Markup(
                '<line class="threshold" x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="#888" '
                'stroke-dasharray="4 3"/><text class="band-label" x="{tx}" y="{ty}" '
                'fill="#444">{words}</text>'
            ).format(
                l=LEFT, r=LEFT + PLOT_W, y=y, tx=LEFT + PLOT_W + 6, ty=_f(float(y) + 4), words=words
            )
        )
    parts.extend(_x_axis(reports))
    parts.append(
        Markup(
            '<text class="axis-title" x="14" y="{}" text-anchor="middle" fill="#444" '
            'transform="rotate(-90 14 {})">PSI</text>'
        ).format(TOP + PLOT_H // 2, TOP + PLOT_H // 2)
    )
    for index, column in enumerate(columns):
        parts.append(_series(index, column, [r.psi.get(column) for r in reports], 0.0, high, "PSI"))
    parts.append(Markup("</svg>"))
    parts.append(
        Markup(
            "<figcaption>PSI per window of the most drifted columns: below 0.1 stable, "
            "0.1 to 0.25 moderate, 0.25 and above major.</figcaption>{}</figure>"
        ).format(_legend(columns))
    )
    return Markup("").join(parts)


def _quality_chart(reports: list[Report]) -> Markup:
    metric = next((r.metric for r in reversed(reports) if r.metric), "") or "metric"
    direction = next((r.direction for r in reversed(reports) if r.direction), "")
    better = {"maximize": "higher is better", "minimize": "lower is better"}.get(direction, "")
    live = [r.live for r in reports]
    evaluation = [r.evaluation for r in reports]
    known = [v for v in live + evaluation if v is not None]
    low, high = min(known), max(known)
    margin = (high - low) * 0.15 or max(abs(high) * 0.05, 0.01)
    low, high = low - margin, high + margin
    label = (
        f"Line chart: live {metric} against the evaluation score over "
        f"{_count(len(reports), 'monitor window')}; the table after the charts gives every value."
    )
    parts = [
        Markup(
            '<figure class="chart chart-quality"><svg class="chart-svg" viewBox="0 0 {w} {h}" '
            'width="{w}" height="{h}" role="img" aria-label="{label}">'
        ).format(w=WIDTH, h=HEIGHT, label=label)
    ]
    parts.extend(_y_tick(v, low, high, 3) for v in (low, (low + high) / 2, high))
    parts.extend(_x_axis(reports))
    parts.append(_series(0, f"live {metric}", live, low, high, ""))
    parts.append(_series(1, "evaluation score", evaluation, low, high, ""))
    parts.append(Markup("</svg>"))
    parts.append(
        Markup(
            "<figcaption>Live {} against the version's evaluation score{}.</figcaption>{}</figure>"
        ).format(
            metric,
            f" ({better})" if better else "",
            _legend([f"live {metric}", "evaluation score"]),
        )
    )
    return Markup("").join(parts)


# -- tables -----------------------------------------------------------------------------------


def _psi_table(reports: list[Report], columns: list[str]) -> Markup:
    head = Markup("").join(
        Markup('<th scope="col"{}>{}</th>').format(
            Markup(' title="{}"').format(c) if truncated(c, COLUMN_CHARS)[1] else "",
            truncated(c, COLUMN_CHARS)[0],
        )
        for c in columns
    )
    rows = []
    for report in reports:
        cells = Markup("").join(
            Markup('<td class="num">{}</td>').format(
                _psi_words(report.psi.get(c)) if c in report.psi else DASH
            )
            for c in columns
        )
        rows.append(
            Markup('<tr><th scope="row">{}</th>{}</tr>').format(timestamp(report.end), cells)
        )
    return Markup(
        '<div class="table-scroll"><table class="monitor-psi"><caption>PSI of the most drifted '
        'columns per window, oldest first</caption><thead><tr><th scope="col">Window end</th>'
        "{}</tr></thead><tbody>{}</tbody></table></div>"
    ).format(head, Markup("").join(rows))


def _psi_words(value: float | None) -> str:
    if value is None:
        return DASH
    band = "stable" if value < STABLE_BELOW else "moderate" if value < MAJOR_FROM else "major"
    return f"{value:.3f} ({band})"


def _reports_table(reports: list[Report]) -> Markup:
    rows = []
    for report in reports:
        drifted = (
            Markup("{}: {}").format(report.drifted_count, _names(report))
            if report.drifted_count
            else "none"
        )
        rows.append(
            Markup(
                '<tr data-verdict="{v}"><th scope="row">{window}</th><td>{role}</td>'
                '<td>{badge}</td><td class="num">{rows}</td><td class="num">{psi}</td>'
                '<td>{drifted}</td><td class="num">{live}</td><td class="num">{evaluation}</td>'
                "<td>{note}</td></tr>"
            ).format(
                v=report.verdict,
                window=report.window,
                role=report.role,
                badge=_verdict_badge(report.verdict),
                rows=f"{int(report.rows):,}" if report.rows is not None else DASH,
                psi=decimal(report.max_psi),
                drifted=drifted,
                live=(f"{report.metric} " if report.metric and report.live is not None else "")
                + decimal(report.live),
                evaluation=decimal(report.evaluation),
                note=report.note or DASH,
            )
        )
    return Markup(
        '<div class="table-scroll"><table class="monitor-reports"><caption>Monitor reports, '
        'oldest first</caption><thead><tr><th scope="col">Window</th><th scope="col">Traffic'
        '</th><th scope="col">Verdict</th><th scope="col">Rows</th><th scope="col">Max PSI</th>'
        '<th scope="col">Drifted columns</th><th scope="col">Live metric</th>'
        '<th scope="col">Evaluation score</th><th scope="col">Notes</th></tr></thead>'
        "<tbody>{}</tbody></table></div>"
    ).format(Markup("").join(rows))
