"""Approve, reject, retry and roll back from the console: each a form that asks for a
reason and shows who the registry will record as having decided (``/v1/identity``).

The decision itself is the registry's: the console posts it with its user's credentials,
and a refusal (not an approver, no longer waiting, ...) comes back on the form, with the
reason kept, in the registry's own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from registry.names import NAME_PATTERN, VERSION_PATTERN
from registry.statuses import VersionStatus
from slipway.console.fetching import required, side_by_side
from slipway.console.forms import MAX_REASON_CHARS, DecisionForm, parse_decision
from slipway.console.pages import base_context, checked, registry_of
from slipway.console.registry_client import RegistryCallError, RegistryClient
from slipway.console.rendering import render

router = APIRouter()
VersionAction = Literal["approve", "reject", "retry"]


@dataclass(frozen=True)
class Decision:
    verb: str  # the button's word
    notice: str  # the ?notice= of the page it leads back to
    applies_to: frozenset[str]  # statuses it is meant for (the registry has the last word)
    explanation: str


DECISIONS: dict[str, Decision] = {
    "approve": Decision(
        "Approve",
        "approved",
        frozenset({VersionStatus.AWAITING_APPROVAL}),
        "The version's promotion goes on to its canary (if any) and to live.",
    ),
    "reject": Decision(
        "Reject",
        "rejected",
        frozenset({VersionStatus.AWAITING_APPROVAL}),
        "The version's promotion ends here; live is untouched.",
    ),
    "retry": Decision(
        "Retry",
        "retried",
        frozenset({VersionStatus.FAILED, VersionStatus.SUPERSEDED}),
        "The gate runs again on the same uploaded bytes. Only a failed or superseded "
        "version is retried: a rejection is a verdict on the model.",
    ),
    "rollback": Decision(
        "Roll back",
        "rolled-back",
        frozenset(),
        "Live goes back to the last good version before the current one (or to the "
        "version you name); a promotion of the model in flight is cancelled.",
    ),
}


# -- the forms -------------------------------------------------------------------------


@router.get("/models/{name}/versions/{version}/{action}", response_class=HTMLResponse)
def version_decision_form(
    request: Request,
    name: str,
    version: str,
    action: VersionAction,
    registry: RegistryClient = Depends(registry_of),
) -> HTMLResponse:
    name = checked(name, NAME_PATTERN, "model name")
    version = checked(version, VERSION_PATTERN, "version")
    return _version_form(request, registry, name, version, action, DecisionForm("", None, ()))


@router.get("/models/{name}/rollback", response_class=HTMLResponse)
def rollback_form(
    request: Request, name: str, registry: RegistryClient = Depends(registry_of)
) -> HTMLResponse:
    name = checked(name, NAME_PATTERN, "model name")
    return _rollback_form(request, registry, name, DecisionForm("", None, ()))


def _version_form(
    request: Request,
    registry: RegistryClient,
    name: str,
    version: str,
    action: str,
    form: DecisionForm,
    refusal: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    described, identity = side_by_side(
        lambda: registry.get(f"/v1/models/{name}/versions/{version}"),
        lambda: registry.get("/v1/identity"),
    )
    described = required(described)
    decision = DECISIONS[action]
    current = str(described.get("status", "unknown"))
    context = base_context(
        request,
        f"{decision.verb} {name} version {version}",
        [
            (name, f"/models/{name}"),
            (version, f"/models/{name}/versions/{version}"),
            (decision.verb, None),
        ],
    )
    context.update(
        _form_context(decision, form, identity, refusal),
        subject=f"version {version} of {name}",
        current_status=current,
        applies=current in decision.applies_to,
        back=f"/models/{name}/versions/{version}",
    )
    return render("decision.html", context, status)


def _rollback_form(
    request: Request,
    registry: RegistryClient,
    name: str,
    form: DecisionForm,
    refusal: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    model, identity = side_by_side(
        lambda: registry.get(f"/v1/models/{name}"),
        lambda: registry.get("/v1/identity"),
    )
    model = required(model)
    live = ((model.get("stages") or {}).get("live") or {}).get("version")
    decision = DECISIONS["rollback"]
    context = base_context(
        request,
        f"Roll back {name}",
        [(name, f"/models/{name}"), (decision.verb, None)],
    )
    context.update(
        _form_context(decision, form, identity, refusal),
        subject=f"model {name}",
        current_status=f"live version {live}" if live else "no live version",
        applies=live is not None,
        back=f"/models/{name}",
        rollback=True,
    )
    return render("decision.html", context, status)


def _form_context(
    decision: Decision, form: DecisionForm, identity: Any, refusal: str | None
) -> dict[str, Any]:
    return {
        "decision": decision,
        "reason": form.reason,
        "to": form.to or "",
        "problems": form.problems,
        "refusal": refusal,
        "max_reason": MAX_REASON_CHARS,
        **identity_view(identity),
    }


def identity_view(identity: Any) -> dict[str, Any]:
    """Who the registry will record, or why the console cannot say."""
    if isinstance(identity, RegistryCallError):
        if identity.status in (404, 405):
            why = (
                "this registry does not say (it was deployed before /v1/identity); it records "
                "the IAM identity your credentials sign as"
            )
        else:
            why = f"the registry could not say (HTTP {identity.status}: {identity.detail})"
        return {"actor": None, "approver": None, "identity_unknown": why}
    return {
        "actor": identity.get("actor"),
        "approver": identity.get("approver"),
        "separation_of_duties": identity.get("separation_of_duties"),
        "identity_environment": identity.get("environment"),
        "identity_unknown": None,
    }


# -- the decisions ---------------------------------------------------------------------


@router.post("/models/{name}/versions/{version}/{action}", response_class=HTMLResponse)
async def decide_version(
    request: Request,
    name: str,
    version: str,
    action: VersionAction,
    registry: RegistryClient = Depends(registry_of),
) -> Response:
    name = checked(name, NAME_PATTERN, "model name")
    version = checked(version, VERSION_PATTERN, "version")
    form = parse_decision(await request.body(), allow_to=False)
    back = f"/models/{name}/versions/{version}"
    if not form.valid:
        return await run_in_threadpool(
            _version_form, request, registry, name, version, action, form, None, 400
        )
    path = f"/v1/models/{name}/versions/{version}/{action}"
    try:
        await run_in_threadpool(registry.post, path, {"reason": form.reason})
    except RegistryCallError as exc:
        return await run_in_threadpool(
            _version_form,
            request,
            registry,
            name,
            version,
            action,
            form,
            exc.detail,
            exc.status,
        )
    return RedirectResponse(f"{back}?notice={DECISIONS[action].notice}", status_code=303)


@router.post("/models/{name}/rollback", response_class=HTMLResponse)
async def decide_rollback(
    request: Request, name: str, registry: RegistryClient = Depends(registry_of)
) -> Response:
    name = checked(name, NAME_PATTERN, "model name")
    form = parse_decision(await request.body(), allow_to=True)
    if not form.valid:
        return await run_in_threadpool(_rollback_form, request, registry, name, form, None, 400)
    body = {"reason": form.reason, **({"to": form.to} if form.to else {})}
    try:
        await run_in_threadpool(registry.post, f"/v1/models/{name}/rollback", body)
    except RegistryCallError as exc:
        return await run_in_threadpool(
            _rollback_form, request, registry, name, form, exc.detail, exc.status
        )
    return RedirectResponse(f"/models/{name}?notice=rolled-back", status_code=303)
