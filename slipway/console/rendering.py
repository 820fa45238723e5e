"""Pages from the package's Jinja2 templates, autoescaped: every value from the registry is
text until a renderer (gate diagram, lineage graph, monitor charts) has escaped it itself
and returned Markup."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import ChainableUndefined, Environment, PackageLoader

from slipway.console.gate_diagram import gate_diagram
from slipway.console.lineage_graph import lineage_graph
from slipway.console.monitor_charts import monitor_charts


def when(value: Any) -> str:
    """An ISO time as people read it (UTC, to the second); anything else as it came."""
    if not isinstance(value, str) or not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    zone = " UTC" if moment.utcoffset() is not None and not moment.utcoffset() else ""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + zone


def number(value: Any) -> str:
    """A metric value, short: four significant digits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    return f"{value:.4g}"


TEMPLATES = Environment(
    loader=PackageLoader("slipway.console", "templates"),
    autoescape=True,
    # registry answers from an older or newer deployment may lack a field: a blank, not a 500
    undefined=ChainableUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.globals.update(
    gate_diagram=gate_diagram, lineage_graph=lineage_graph, monitor_charts=monitor_charts
)
TEMPLATES.filters.update(when=when, number=number)


def render(template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(template).render(**context), status_code=status)
