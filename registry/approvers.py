"""Who may decide about versions: approve, reject, roll back.

The registry's Function URL is one IAM resource for every route, and uploaders need it to
declare uploads; so IAM alone cannot keep an uploader from calling approve. Where the
environment lists its approvers (``cdk.json`` ``approvers``: ARN patterns), the registry
refuses decisions from anyone else.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

from registry.exceptions import NotAnApproverError

# an IAM ARN pattern: the ARN's own characters, with * and ? as wildcards
APPROVER_PATTERN = r"^arn:aws[a-z-]*:(iam|sts)::[0-9*?]{1,12}:[A-Za-z0-9+=,.@_/*?:-]{1,2000}$"
MAX_APPROVERS = 100


def parse_approvers(setting: str) -> tuple[str, ...]:
    """The infra-set variable: a JSON list of patterns (empty: nobody is excluded)."""
    return tuple(json.loads(setting or "[]"))


def require_approver(actor: str, approvers: tuple[str, ...]) -> None:
    if approvers and not any(fnmatchcase(actor, pattern) for pattern in approvers):
        raise NotAnApproverError(
            f"{actor} is not among this environment's approvers (cdk.json 'approvers'); "
            "decisions about versions are theirs"
        )
