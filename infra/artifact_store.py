"""ArtifactStore: the S3 bucket models are uploaded to, and the bucket its access logs go to."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from registry.names import CAPTURE_PREFIX, FEEDBACK_PREFIX, MODELS_PREFIX


class ArtifactStore(Construct):
    """Versioned, encrypted, private, TLS-only, access-logged; every object creation goes to
    EventBridge.

    EventBridge delivery is switched on with the bucket's own NotificationConfiguration
    property rather than ``event_bridge_enabled=True``, which would add a Lambda-backed
    custom resource that only works in AWS. Noncurrent object versions move to infrequent
    access but are never deleted: the registry serves models by S3 version id.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        retain: bool,
        kms_key: bool,
        empty_on_delete: bool,
        model_readers: tuple[str, ...] = (),
        capture_retention_days: int = 30,
    ) -> None:
        super().__init__(scope, id_)
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        # CloudFormation cannot delete a bucket that holds objects. Where the data goes with
        # the stack, a custom resource empties both buckets first; for the access logs no
        # manual emptying could do it, S3 keeps delivering logs of the deletion itself (the
        # custom resource denies new writes before it empties the bucket).
        auto_delete = not retain and empty_on_delete
        self.key = (
            kms.Key(
                self,
                "Key",
                enable_key_rotation=True,
                removal_policy=removal,
                description="Slipway model artifacts",
            )
            if kms_key
            else None
        )
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=removal,
            auto_delete_objects=auto_delete,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            versioned=True,
            encryption=s3.BucketEncryption.KMS if self.key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self.key,
            bucket_key_enabled=bool(self.key),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="AbortIncompleteUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                *(
                    # captured requests and labels may be personal data: kept only so long
                    s3.LifecycleRule(
                        id="Expire" + prefix.strip("/").title().replace("-", ""),
                        prefix=prefix,
                        expiration=Duration.days(capture_retention_days),
                        noncurrent_version_expiration=Duration.days(1),
                    )
                    for prefix in CAPTURE_AND_ERRORS
                ),
                s3.LifecycleRule(
                    id="NoncurrentToInfrequentAccess",
                    noncurrent_version_transitions=[
                        s3.NoncurrentVersionTransition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(30),
                        )
                    ],
                ),
            ],
            removal_policy=removal,
            auto_delete_objects=auto_delete,
        )
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        if model_readers:
            self._let_read_models(model_readers)

    def _let_read_models(self, accounts: tuple[str, ...]) -> None:
        """Let other accounts read bundles by key and S3 version id (a cross-account copy).

        The bucket policy is CloudFormation's, so the grant lives here rather than in a hand
        edit that the next deploy would undo. Each account still has to allow its own
        principals the same actions in IAM.
        """
        readers = [iam.AccountPrincipal(account) for account in accounts]
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ModelReaders",
                principals=readers,
                actions=list(MODEL_READ_ACTIONS),
                resources=[self.bucket.arn_for_objects(f"{MODELS_PREFIX}*")],
            )
        )
        if self.key is not None:
            # SSE-KMS objects are decrypted on the reader's behalf by S3, and only for S3
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="ModelReadersDecryptThroughS3",
                    principals=readers,
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"
                        }
                    },
                )
            )


# Expired after the capture retention: what Firehose delivers, and what it could not.
CAPTURE_AND_ERRORS = tuple(
    p
    for prefix in (CAPTURE_PREFIX, FEEDBACK_PREFIX)
    for p in (prefix, prefix.rstrip("/") + "-errors/")
)


# What reading one uploaded version, by its S3 version id, takes.
MODEL_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
