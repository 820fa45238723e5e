"""Approver and uploader are compared as people, not as ARNs: one person's two roles are
one person."""

from __future__ import annotations

import pytest

from registry.exceptions import SelfApprovalError
from registry.uploads import person_of, require_other_approver

SSO = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_{}_0123456789abcdef/alice@example.com"


def test_one_persons_uploader_and_approver_permission_sets_are_one_person():
    uploader, approver = SSO.format("MLUploader"), SSO.format("MLApprover")
    assert uploader != approver and person_of(uploader) == person_of(approver)
    with pytest.raises(SelfApprovalError, match="another person approves it"):
        require_other_approver(uploader, approver, "iris", "1")


@pytest.mark.parametrize(
    ("uploader", "approver"),
    [
        (SSO.format("MLUploader"), SSO.format("MLApprover").replace("alice", "bob")),
        ("arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/bob"),
        # the same session name in another account is another identity
        (SSO.format("X"), SSO.format("X").replace("123456789012", "210987654321")),
    ],
)
def test_other_people_may_approve(uploader, approver):
    require_other_approver(uploader, approver, "iris", "1")


def test_an_unknown_uploader_is_no_one_to_compare_with():
    require_other_approver(None, SSO.format("MLApprover"), "iris", "1")
