"""The console's read-only pages: models, a model's versions, one version, one dataset.

Each page asks the registry API as little as it can (the models page: one call; the
version page: the version and its gate, side by side) and shows what an older registry
does not offer as a sentence, not as an error.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from registry.names import NAME_PATTERN, SHA256_PATTERN, VERSION_PATTERN, version_order
from registry.statuses import VersionStatus
from slipway.console.fetching import required, side_by_side
from slipway.console.humanize import mapping
from slipway.console.registry_client import RegistryCallError, RegistryClient
from slipway.console.rendering import render

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
    stages = mapping(model.get("stages"))
    live = mapping(stages.get("live"))
    staging = mapping(stages.get("staging"))
    latest = mapping(model.get("latest"))
    monitor = mapping(model.get("monitor"))
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
    page: int = 1,
    registry: RegistryClient = Depends(registry_of),
) -> HTMLResponse:
    name = checked(name, NAME_PATTERN, "model name")
    model, listed = side_by_side(
        lambda: registry.get(f"/v1/models/{name}"),
        lambda: every_version(registry, name),
    )
    model, (versions, more) = required(model), required(listed)
    # newest first across all of them: the registry lists versions in key order ("10"
    # before "2"), so a page of its own would not hold the newest
    versions.sort(key=lambda v: version_order(str(v.get("version", ""))), reverse=True)
    pages = max(1, -(-len(versions) // PAGE_SIZE))
    if not 1 <= page <= pages:
        raise PageNotFound(f"model {name} has no page {page} of versions (pages 1 to {pages})")
    stages = model.get("stages") if isinstance(model.get("stages"), dict) else {}
    live = stages.get("live") if isinstance(stages.get("live"), dict) else {}
    staging = stages.get("staging") if isinstance(stages.get("staging"), dict) else {}
    context = base_context(request, f"Model {name}", [(name, None)])
    context.update(
        name=name,
        model=model,
        live=live.get("version"),
        canary=live.get("canary_version"),
        staging=staging.get("version"),
        versions=[version_row(v) for v in versions[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]],
        page=page,
        pages=pages,
        more_than_read=more,
        read_at_most=VERSIONS_READ_AT_MOST,
    )
    return render("versions.html", context)


# A model's versions page orders every version it reads, so it reads them all, in registry
# pages of 100, up to this many (5 calls); past it, the page says so (`slipway versions`).
VERSIONS_READ_AT_MOST = 500


def every_version(registry: RegistryClient, name: str) -> tuple[list[dict[str, Any]], bool]:
    """The model's versions as the registry lists them, at most VERSIONS_READ_AT_MOST, and
    whether more remain unread."""
    versions: list[dict[str, Any]] = []
    token = None
    while True:
        listing = registry.get(f"/v1/models/{name}/versions", {"limit": "100", "next_token": token})
        versions += [v for v in listing.get("versions", []) if isinstance(v, dict)]
        token = listing.get("next_token")
        if not token or len(versions) >= VERSIONS_READ_AT_MOST:
            return versions, bool(token)


def version_row(version: dict[str, Any]) -> dict[str, Any]:
    # a damaged item (written by hand, or by an old bug) is listed with what it has
    evaluation = mapping(version.get("evaluation_result"))
    declared = mapping(version.get("evaluation"))
    lineage = mapping(version.get("lineage"))
    metrics = mapping(lineage.get("metrics"))
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
