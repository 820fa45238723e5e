"""What `cdk destroy` leaves behind: only what the environment's data retention keeps.

CloudFormation cannot delete a bucket that holds objects (DELETE_FAILED), and the access-log
bucket is never empty: S3 delivers logs of the very requests that empty the artifact bucket.
moto deletes non-empty buckets, so these are template assertions.
"""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

BUCKETS = ("ArtifactStoreAccessLogs", "ArtifactStoreBucket")


def _buckets(template: dict) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::S3::Bucket"
    }


def _emptied(template: dict) -> set[str]:
    """The buckets a Custom::S3AutoDeleteObjects resource empties before they are deleted."""
    return {
        resource["Properties"]["BucketName"]["Ref"]
        for resource in template["Resources"].values()
        if resource["Type"] == "Custom::S3AutoDeleteObjects"
    }


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_buckets_of_an_environment_that_keeps_no_data_are_emptied_and_deleted(synthesized, env):
    template = synthesized(env).template_json
    buckets = _buckets(template)
    assert sorted(b.rstrip("0123456789ABCDEF") for b in buckets) == sorted(BUCKETS)
    for resource in buckets.values():
        assert resource["DeletionPolicy"] == "Delete"
    # both buckets, the access logs included, are emptied first
    assert _emptied(template) == set(buckets)
    # ... by CDK's handler, which first adds a bucket-policy statement denying s3:PutObject
    # to everyone (S3 keeps delivering access logs), then deletes every object version
    synthesized(env).template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(
                                    ["s3:DeleteObject*", "s3:PutBucketPolicy"]
                                ),
                                "Effect": "Allow",
                            }
                        )
                    ]
                )
            }
        },
    )


def test_an_environment_that_keeps_its_data_keeps_both_buckets_on_purpose(synthesized):
    template = synthesized("prod").template_json
    buckets = _buckets(template)
    assert len(buckets) == 2
    for resource in buckets.values():
        assert resource["DeletionPolicy"] == "Retain"
    assert _emptied(template) == set()


def test_the_embedded_cloud_runs_no_custom_resource_to_empty_buckets(synthesized):
    # moto marks custom resources complete without running them; `slipway local down`
    # discards the embedded cloud whole
    template = synthesized("local").template_json
    assert _emptied(template) == set()
    for resource in _buckets(template).values():
        assert resource["DeletionPolicy"] == "Delete"
