"""The console's read-only pages: models, a model's versions, one version, one dataset.

Each page asks the registry API as little as it can (the models page: one call; the
version page: the version and its gate, side by side) and shows what an older registry
does not offer as a sentence, not as an error.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from registry.names import NAME_PATTERN, SHA256_PATTERN, VERSION_PATTERN
from registry.statuses import VersionStatus
from slipway.console.fetching import required, side_by_side
from slipway.console.registry_client import RegistryCallError, RegistryClient
from slipway.console.rendering import render, version_order

router = APIRouter()
PAGE_SIZE = 50
MAX_TOKEN_CHARS = 2048  # an opaque registry token: a DynamoDB key, base64

# the fixed sentence for each ?notice= a decision form redirects with
NOTICES = {
    "approved": "The version was approved: its promotion goes on.",
    "rejected": "The version was rejected: its promotion ends, and the audit trail records why.",
    "retried": "The gate runs again for this version.",
    "rolled-back": "The model was rolled back: live points at the version shown as live.",
}
# how the page refreshes itself while the gate runs (static/console.js reads it)
REFRESH_SECONDS = 5


class PageNotFound(Exception):
    """A URL that names no model, version or dataset the console could show."""


def registry_of(request: Request) -> RegistryClient:
    return request.app.state.registry  # type: ignore[no-any-return]


def environment_of(request: Request) -> str:
    return request.app.state.environment  # type: ignore[no-any-return]


def checked(value: str, pattern: Any, what: str) -> str:
    if not pattern.fullmatch(value):
        raise PageNotFound(f"{value[:80]!r} is not a {what}")
    return value


def page_token(value: str | None) -> str | None:
    if value is not None and (not value or len(value) > MAX_TOKEN_CHARS):
        raise PageNotFound("next_token is not a page of this listing")
    return value


def notice_of(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def base_context(request: Request, title: str, crumbs: list[tuple[str, str | None]]) -> dict:
    return {
        "title": title,
        "environment": environment_of(request),
        "breadcrumbs": [("Models", "/"), *crumbs] if crumbs else [("Models", None)],
        "notice": notice_of(request),
    }


# -- models ----------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def models_page(
    request: Request,
    next_token: str | None = None,
    registry: RegistryClient = Depends(registry_of),
) -> HTMLResponse:
    listing = registry.get(
        "/v1/models", {"limit": str(PAGE_SIZE), "next_token": page_token(next_token)}
    )
    context = base_context(request, "Models", [])
    context.update(
        models=[model_row(m) for m in listing.get("models", [])],
        next_token=listing.get("next_token"),
        first_page=next_token is None,
    )
    return render("models.html", context)


def model_row(model: dict[str, Any]) -> dict[str, Any]:
    """One line of the models page from a listed model: the enriched fields where the
    registry sends them, the older ones (live_version, latest_version) otherwise."""
    stages = model.get("stages") or {}
    live = stages.get("live") or {}
    staging = stages.get("staging") or {}
    latest = model.get("latest") or {}
    monitor = model.get("monitor") or {}
    return {
        "name": model.get("name", "?"),
        "live": live.get("version") or model.get("live_version"),
        "canary": live.get("canary_version"),
        "canary_weight": live.get("canary_weight"),
        "staging": staging.get("version"),
        "latest": latest.get("version") or model.get("latest_version"),
        "latest_status": latest.get("status"),
        "latest_reason": latest.get("reason"),
        "latest_changed_at": latest.get("status_changed_at"),
        "drift": monitor.get("verdict"),
        "drift_version": monitor.get("version"),
        "drift_window_end": monitor.get("window_end"),
        "enriched": "stages" in model,
    }


# -- versions ------------------------------------------------------------------------


@router.get("/models/{name}", response_class=HTMLResponse)
def versions_page(
    request: Request,
    name: str,
    next_token: str | None = None,
    registry: RegistryClient = Depends(registry_of),
) -> HTMLResponse:
    name = checked(name, NAME_PATTERN, "model name")
    params = {"limit": str(PAGE_SIZE), "next_token": page_token(next_token)}
    model, listing = side_by_side(
        lambda: registry.get(f"/v1/models/{name}"),
        lambda: registry.get(f"/v1/models/{name}/versions", params),
    )
    model, listing = required(model), required(listing)
    stages = model.get("stages") or {}
    versions = sorted(
        listing.get("versions", []),
        key=lambda v: version_order(str(v.get("version", ""))),
        reverse=True,
    )
    context = base_context(request, f"Model {name}", [(name, None)])
    context.update(
        name=name,
        model=model,
        live=(stages.get("live") or {}).get("version"),
        canary=(stages.get("live") or {}).get("canary_version"),
        staging=(stages.get("staging") or {}).get("version"),
        versions=[version_row(v) for v in versions],
        next_token=listing.get("next_token"),
        first_page=next_token is None,
    )
    return render("versions.html", context)


def version_row(version: dict[str, Any]) -> dict[str, Any]:
    evaluation = version.get("evaluation_result") or {}
    declared = version.get("evaluation") or {}
    lineage = version.get("lineage") or {}
    metrics = lineage.get("metrics") if isinstance(lineage.get("metrics"), dict) else {}
    return {
        "version": str(version.get("version", "?")),
        "status": version.get("status", "unknown"),
        "reason": version.get("rejection_reason") or version.get("cancel_reason"),
        "registered_at": version.get("registered_at"),
        "metric": evaluation.get("metric") or declared.get("metric"),
        "score": evaluation.get("value"),
        "threshold": evaluation.get("threshold", declared.get("threshold")),
        "meets_threshold": evaluation.get("meets_threshold"),
        "metrics": sorted((metrics or {}).items())[:6],
        "approved_by": version.get("approved_by"),
        "damaged": version.get("damaged"),
    }


# -- one version -----------------------------------------------------------------------


@router.get("/models/{name}/versions/{version}", response_class=HTMLResponse)
def version_page(
    request: Request,
    name: str,
    version: str,
    registry: RegistryClient = Depends(registry_of),
) -> HTMLResponse:
    name = checked(name, NAME_PATTERN, "model name")
    version = checked(version, VERSION_PATTERN, "version")
    described, gate = side_by_side(
        lambda: registry.get(f"/v1/models/{name}/versions/{version}"),
        lambda: registry.get(f"/v1/models/{name}/versions/{version}/gate"),
    )
    described = required(described)
    context = base_context(
        request, f"{name} version {version}", [(name, f"/models/{name}"), (version, None)]
    )
    status = str(described.get("status", "unknown"))
    context.update(
        name=name,
        version=version,
        described=described,
        status=status,
        gate=None if isinstance(gate, RegistryCallError) else gate,
        gate_problem=gate_problem(gate) if isinstance(gate, RegistryCallError) else None,
        refresh_seconds=REFRESH_SECONDS
        if not isinstance(gate, RegistryCallError) and gate.get("status") == "RUNNING"
        else None,
        audit=list(described.get("audit") or []),
        reports=list(described.get("monitoring") or []),
        received=attestation_view(described.get("received_attestation")),
        issued=[attestation_view(a) for a in described.get("attestations") or []],
        actions=decisions_for(name, version, status),
    )
    return render("version.html", context)


def gate_problem(error: RegistryCallError) -> str:
    """Why the gate is not drawn: the version exists (its own call succeeded), so a 404
    here means the registry predates the gate route."""
    if error.status in (404, 405):
        return (
            "This registry does not offer the gate's steps (it was deployed before the "
            "console's gate route); the audit trail below has every step it recorded."
        )
    return f"The registry could not say how the gate went (HTTP {error.status}: {error.detail})."


def attestation_view(attestation: Any) -> dict[str, Any] | None:
    """An attestation as the page lists it: who signed what, when, on what occasion."""
    if not isinstance(attestation, dict):
        return None
    envelope = attestation.get("envelope") if isinstance(attestation.get("envelope"), dict) else {}
    statement = envelope.get("statement") if isinstance(envelope.get("statement"), dict) else {}
    approval = statement.get("approval") if isinstance(statement.get("approval"), dict) else {}
    return {
        "environment": statement.get("environment") or attestation.get("environment"),
        "account": statement.get("account"),
        "region": statement.get("region"),
        "status": statement.get("status"),
        "issued_at": attestation.get("issued_at") or statement.get("issued_at"),
        "occasion": attestation.get("occasion"),
        "statement_sha256": attestation.get("statement_sha256") or envelope.get("statement_sha256"),
        "approval": approval.get("policy"),
        "approved_by": approval.get("by"),
        "live_since": statement.get("live_since"),
    }


def decisions_for(name: str, version: str, status: str) -> list[dict[str, str]]:
    """The decisions the version's status allows, each with what it does."""
    base = f"/models/{name}/versions/{version}"
    actions = []
    if status == VersionStatus.AWAITING_APPROVAL:
        actions += [
            {"label": "Approve", "href": f"{base}/approve", "does": "its promotion goes on"},
            {"label": "Reject", "href": f"{base}/reject", "does": "its promotion ends"},
        ]
    if status in (VersionStatus.FAILED, VersionStatus.SUPERSEDED):
        actions.append({"label": "Retry", "href": f"{base}/retry", "does": "the gate runs again"})
    if status == VersionStatus.LIVE:
        actions.append(
            {
                "label": "Roll back",
                "href": f"/models/{name}/rollback",
                "does": "live goes back to the last good version before this one",
            }
        )
    return actions


# -- one dataset -----------------------------------------------------------------------


@router.get("/datasets/{sha256}", response_class=HTMLResponse)
def dataset_page(
    request: Request,
    sha256: str,
    next_token: str | None = None,
    registry: RegistryClient = Depends(registry_of),
) -> HTMLResponse:
    sha256 = checked(sha256, SHA256_PATTERN, "dataset digest (sha256)")
    listing = registry.get(
        f"/v1/datasets/{sha256}/models",
        {"limit": str(PAGE_SIZE), "next_token": page_token(next_token)},
    )
    context = base_context(request, f"Dataset {sha256[:12]}", [(f"dataset {sha256[:12]}", None)])
    context.update(
        sha256=sha256,
        versions=listing.get("versions", []),
        next_token=listing.get("next_token"),
        first_page=next_token is None,
    )
    return render("dataset.html", context)
