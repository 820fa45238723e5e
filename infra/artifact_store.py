"""ArtifactStore: the S3 bucket models are uploaded to."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

MODELS_PREFIX = "models/"


class ArtifactStore(Construct):
    """Versioned, encrypted, private, TLS-only; every object creation goes to EventBridge.

    EventBridge delivery is switched on with the bucket's own NotificationConfiguration
    property rather than ``event_bridge_enabled=True``, which would add a Lambda-backed
    custom resource that only works in AWS.
    """

    def __init__(self, scope: Construct, id_: str, *, retain: bool) -> None:
        super().__init__(scope, id_)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
