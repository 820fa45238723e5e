"""A version's gate as a row of connected steps: each step's result, duration and reason.

The input is ``GET /v1/models/{name}/versions/{version}/gate`` as the registry answers it.
State is said in words (and an icon) in every step, never by colour alone; the connectors
between the boxes are drawn by the stylesheet.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from slipway.console.humanize import (
    DASH,
    duration,
    mapping,
    number,
    sequence,
    text,
    timestamp,
    truncated,
)

# The workflow declares about twenty Tasks; more than this is a damaged answer.
MAX_STEPS = 60
MAX_NAME = 60
MAX_DESCRIPTION = 300
MAX_REASON = 2000

# state -> (icon, words); the icon is decoration (aria-hidden), the words carry the state
STATES: dict[str, tuple[str, str]] = {
    "passed": ("✓", "Passed"),
    "failed": ("✗", "Failed"),
    "running": ("▶", "Running"),
    "waiting": ("‖", "Waiting"),
    "not-reached": ("○", "Not reached"),
}
UNKNOWN = ("?", "Unknown")

EXECUTION_STATUSES: dict[str, str] = {
    "RUNNING": "running",
    "SUCCEEDED": "passed",
    "FAILED": "failed",
    "TIMED_OUT": "failed",
    "ABORTED": "failed",
}


def gate_diagram(gate: dict[str, Any], *, summary: bool = False) -> Markup:
    """The gate's steps as ``<ol class="gate">``, one ``<li class="step" data-step
    data-state>`` per step. ``summary`` adds a line about the execution first (its status,
    times, and why steps may be missing); the console's version page writes its own."""
    gate = mapping(gate)
    steps = [mapping(step) for step in sequence(gate.get("steps"))[:MAX_STEPS]]
    parts = [Markup('<div class="gate-diagram">')]
    if summary:
        parts.append(_summary(gate))
    if not steps:
        parts.append(Markup('<p class="gate-empty">No gate steps to show.</p>'))
    else:
        parts.append(Markup('<ol class="gate" aria-label="Gate steps">'))
        parts.extend(_step(step) for step in steps)
        parts.append(Markup("</ol>"))
    parts.append(Markup("</div>"))
    return Markup("").join(parts)


def _summary(gate: dict[str, Any]) -> Markup:
    """The execution's status and times, and why steps may be missing from the picture."""
    status = gate.get("status")
    execution, _ = truncated(gate.get("execution"), 200)
    lines = []
    if gate.get("gone"):
        lines.append(
            "Step Functions no longer keeps this version's promotion execution "
            "(AWS keeps them 90 days after they end; the embedded cloud forgets them when it "
            "stops): the steps below are the declared ones, and the audit trail has what "
            "each step recorded."
        )
    elif not status:
        lines.append("No promotion execution is recorded for this version.")
    parts = [Markup('<p class="gate-summary">')]
    if status:
        state = EXECUTION_STATUSES.get(text(status), "unknown")
        words, _ = truncated(status, 40)
        parts.append(
            Markup('Promotion <span class="badge badge-{}">{}</span>').format(
                state, words.replace("_", " ").lower()
            )
        )
        if execution:
            parts.append(
                Markup(' <span class="gate-execution">execution <code>{}</code></span>').format(
                    execution
                )
            )
        parts.append(_time_span("started", gate.get("started_at")))
        parts.append(_time_span("ended", gate.get("ended_at")))
    parts.append(Markup(" ").join(escape(line) for line in lines))
    parts.append(Markup("</p>"))
    if gate.get("history_truncated"):
        parts.append(
            Markup(
                '<p class="gate-note">The execution\'s history is longer than the console reads:'
                " the steps are what its newest events say.</p>"
            )
        )
    return Markup("").join(parts)


def _time_span(label: str, value: Any) -> Markup:
    if not value:
        return Markup("")
    return Markup(' <span class="gate-time">{} <time datetime="{}">{}</time></span>').format(
        label, truncated(value, 64)[0], timestamp(value)
    )


def _step(step: dict[str, Any]) -> Markup:
    name, name_cut = truncated(step.get("step") or "?", MAX_NAME)
    state = text(step.get("state"))[:MAX_NAME]
    icon, words = STATES.get(state, UNKNOWN)
    css_state = state if state in STATES else "unknown"
    parts = [
        Markup('<li class="step step-{}" data-step="{}" data-state="{}">').format(
            css_state, text(step.get("step"))[:200], state
        ),
        Markup(
            '<span class="step-head"><span class="step-icon" aria-hidden="true">{}</span> '
        ).format(icon),
        Markup('<span class="step-name"{}>{}</span></span>').format(
            Markup(' title="{}"').format(text(step.get("step"))) if name_cut else "", name
        ),
        Markup('<span class="step-state">{}</span>').format(words),
        _timing(step, state),
    ]
    reason, _ = truncated(step.get("reason"), MAX_REASON)
    if reason:
        label = "Waiting for" if state == "waiting" else "Reason"
        parts.append(
            Markup('<p class="step-reason"><span class="step-label">{}:</span> {}</p>').format(
                label, reason
            )
        )
    description, cut = truncated(step.get("description"), MAX_DESCRIPTION)
    if description:
        title = Markup(' title="{}"').format(text(step.get("description"))) if cut else ""
        parts.append(Markup('<p class="step-description"{}>{}</p>').format(title, description))
    parts.append(Markup("</li>"))
    return Markup("").join(parts)


def _timing(step: dict[str, Any], state: str) -> Markup:
    """How long the step took (or has been going), and its attempts when it retried."""
    took = duration(step.get("duration_ms"))
    bits: list[Markup] = []
    if took != DASH:
        words = "for" if state in ("running", "waiting") else "took"
        bits.append(Markup('<span class="step-duration">{} {}</span>').format(words, took))
    elif step.get("started_at") and state in ("running", "waiting"):
        bits.append(
            Markup('<span class="step-duration">since <time datetime="{}">{}</time></span>').format(
                truncated(step.get("started_at"), 64)[0], timestamp(step.get("started_at"))
            )
        )
    attempts = number(step.get("attempts"))
    if attempts is not None and attempts > 1:
        bits.append(Markup('<span class="step-attempts">{} attempts</span>').format(int(attempts)))
    if not bits:
        return Markup("")
    return Markup('<span class="step-timing">{}</span>').format(Markup(" · ").join(bits))
