"""Who uploaded a version: declared through the registry API before the bytes go to S3.

S3's events name only the account that wrote an object (EventBridge's ``requester``), not
the person. So ``slipway push`` first declares the bundle's digest under the caller's own
IAM identity (the registry API sees it; nobody can declare for someone else); the gate
attributes the bytes with that digest to the declarer and refuses other bytes under the
version. Where the environment separates duties, an undeclared upload is refused and the
uploader may not approve their own version.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from registry.exceptions import SelfApprovalError, UploadNotDeclaredError

# `slipway push` uploads right after declaring, and Validate reads the declaration within
# minutes (SQS retries included); a day is ample, and bounds how long a declaration nobody
# uploads keeps its version number from other people.
DECLARATION_TTL_SECONDS = 24 * 3600
# An IAM ARN is at most 2048 characters; anything longer is not an identity.
MAX_IDENTITY_CHARS = 2048


def declaration_is_current(item: dict[str, Any] | None, at: datetime | None = None) -> bool:
    """DynamoDB deletes expired items within days, not at once: readers check the time."""
    if item is None:
        return False
    now = (at or datetime.now(UTC)).timestamp()
    return int(item.get("expires_at", 0)) > now


def attributed_uploader(
    declaration: dict[str, Any] | None,
    name: str,
    version: str,
    digest: str,
    *,
    required: bool,
) -> str | None:
    """The identity the uploaded bytes are attributed to, or None if nobody declared them.

    A declaration of other bytes means someone else wrote under a version another person
    declared: that is refused whatever the environment requires."""
    if not declaration_is_current(declaration):
        if required:
            raise UploadNotDeclaredError(
                f"nobody declared the upload of {name} {version}; this environment separates "
                "duties, so every upload goes through `slipway push`, which declares the "
                "bundle's digest under the uploader's identity first"
            )
        return None
    assert declaration is not None
    if declaration["digest"] != digest:
        raise UploadNotDeclaredError(
            f"{name} {version} was declared by {declaration['declared_by']} with sha256 "
            f"{declaration['digest']}; the uploaded bytes have {digest}. Upload the declared "
            "bundle, or declare a new version"
        )
    return str(declaration["declared_by"])


_ASSUMED_ROLE = re.compile(r"arn:aws[a-z-]*:sts::(\d{12}):assumed-role/[^/]+/(.+)")


def person_of(arn: str) -> str:
    """Who an IAM ARN stands for. An assumed role's session is the person, whichever role
    they took: IAM Identity Center names every session after its user, so one person's
    uploader and approver permission sets (two roles) are still one person."""
    session = _ASSUMED_ROLE.fullmatch(arn)
    return f"{session.group(1)}:session/{session.group(2)}" if session else arn


def require_other_approver(uploaded_by: str | None, approver: str, name: str, version: str) -> None:
    """Four eyes: whoever uploaded a version does not also approve it."""
    if uploaded_by is not None and person_of(uploaded_by) == person_of(approver):
        raise SelfApprovalError(
            f"{approver} uploaded {name} {version}; this environment separates duties, so "
            "another person approves it"
        )
