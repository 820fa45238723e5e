"""EventBridge Scheduler in the embedded cloud: schedules from the templates, run on time.

moto keeps schedules but never runs them. Here a thread looks at the schedules every few
seconds and invokes each enabled one whose Lambda target is due, as Scheduler does: with the
target's input, its context attributes (``<aws.scheduler.scheduled-time>`` and the others)
filled in, asynchronously (a slow job does not hold up the next schedule). ``rate()``
schedules run every interval from their creation; ``cron()`` and ``at()`` schedules are kept
but not run here (``slipway monitor run`` runs the monitor job on demand).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
CHECK_SECONDS = 5.0

Invoke = Callable[[str, Any], Any]


def interval_seconds(expression: str) -> int | None:
    """A ``rate()`` expression's interval; None for any other kind."""
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    return int(match.group(1)) * _SECONDS[match.group(2).rstrip("s")]


def filled_in(text: str, schedule_arn: str, scheduled: datetime) -> str:
    """The target's input with Scheduler's context attributes replaced."""
    values = {
        "<aws.scheduler.scheduled-time>": scheduled.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": "1",
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


class ScheduleRunner:
    """Runs due ``rate()`` schedules whose target is a Lambda function."""

    def __init__(self, account_id: str, region: str, invoke: Invoke) -> None:
        self._account_id, self._region, self._invoke = account_id, region, invoke
        self._last_run: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="schedules")

    def start(self) -> ScheduleRunner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(CHECK_SECONDS):
            try:
                self.run_due(time.time())
            except Exception:  # a schedule that cannot run must not stop the others
                continue

    def run_due(self, now: float) -> list[str]:
        """Invoke every schedule due at ``now``; the ARNs of those started."""
        from moto.scheduler.models import scheduler_backends

        backend = scheduler_backends[self._account_id][self._region]
        started = []
        for group in list(backend.schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                interval = interval_seconds(schedule.schedule_expression)
                target = schedule.target.get("Arn", "")
                if schedule.state != "ENABLED" or interval is None or ":lambda:" not in target:
                    continue
                last = self._last_run.get(schedule.arn, float(schedule.creation_date))
                if now - last < interval:
                    continue
                due = last + interval * int((now - last) // interval)  # missed runs: one
                self._last_run[schedule.arn] = due
                scheduled = datetime.fromtimestamp(due, tz=UTC)
                event = filled_in(schedule.target.get("Input", "{}"), schedule.arn, scheduled)
                threading.Thread(target=self._invoke, args=(target, event), daemon=True).start()
                started.append(schedule.arn)
        return started
