"""Workflow step Promote: the live pointer moves to the candidate, audited."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from functions.exceptions import ApprovalNotRecordedError, BundleDeletedError
from functions.observability import count_decision, logger
from registry import aws
from registry.attesting import attest_after_the_fact
from registry.audit import AuditEvent, AuditOutcome, AuditStep
from registry.aws import lineage_repository
from registry.metrics import Metric
from registry.repository import LineageRepository
from registry.s3_versions import version_args
from registry.uploads import require_other_approver
from registry.workflow_state import Approval, Promoted, PromotionState


def require_recorded_approval(state: PromotionState, item: dict[str, Any]) -> None:
    """The approval in the state must be the one the registry recorded for this execution.

    Approvals are recorded by AutoApprove or by the registry API, before the execution
    resumes; an approval sent straight to Step Functions with the task token is not."""
    name, version = state.candidate()
    approval: Approval = state.require("approval")
    recorded = (item.get("approved_by"), item.get("approved_in"))
    if recorded != (approval.approved_by, state.execution_name):
        raise ApprovalNotRecordedError(
            f"{name} {version} carries an approval by {approval.approved_by!r} that the "
            "registry did not record for this promotion; approvals go through the registry "
            "API (slipway approve)"
        )
    if state.policy.separation_of_duties:
        require_other_approver(
            state.require_validated().uploaded_by, approval.approved_by, name, version
        )


def require_bundle_in_bucket(s3: Any, item: dict[str, Any], name: str, version: str) -> None:
    """The exact object version registered must still exist: a version whose bundle was
    deleted while it was in the gate would go live and fail every request."""
    bundle = item["bundle"]
    try:
        s3.head_object(
            Bucket=bundle["bucket"], Key=bundle["key"], **version_args(bundle["s3_version_id"])
        )
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("404", "NoSuchKey", "NoSuchVersion", "405", "MethodNotAllowed"):
            raise BundleDeletedError(
                f"the bundle of {name} {version} (s3://{bundle['bucket']}/{bundle['key']}, "
                f"version {bundle['s3_version_id']}) was deleted from the bucket after it was "
                "registered; it cannot go live: upload it again under a new version"
            ) from None
        raise


def promote_live_pointer(
    state: PromotionState,
    repository: LineageRepository,
    s3: Any,
    kms: Any,
    environ: Mapping[str, str] = os.environ,
) -> Promoted:
    name, version = state.candidate()
    item = repository.get_version(name, version) or {}  # read once, for both checks
    require_recorded_approval(state, item)  # an item without the approval fails here
    require_bundle_in_bucket(s3, item, name, version)
    # only while this promotion holds the lock: one a rollback cancelled moves nothing
    previous = repository.promote(name, version, state.execution_name, holding_lock=True)
    repository.record_audit(
        AuditEvent(
            name=name,
            version=version,
            execution=state.execution_name,
            step=AuditStep.PROMOTE,
            outcome=AuditOutcome.LIVE,
            reason=f"live pointer moved from {previous or 'nothing'} to {version}",
        ),
        detail={"from": previous, "to": version},
    )
    count_decision(Metric.PROMOTIONS, name, version=version)
    # what went live, signed by the environment (the next one in the chain checks it)
    attest_after_the_fact(repository, kms, environ, name, version, "live")
    return Promoted(name=name, version=version, previous_version=previous)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return promote_live_pointer(
        PromotionState.parse(event), lineage_repository(), aws.client("s3"), aws.client("kms")
    ).dump()
