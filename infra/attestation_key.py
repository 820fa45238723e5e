"""AttestationKey: the environment's asymmetric KMS key that signs what it did with versions.

The next environment in the chain verifies those statements offline with this key's public
half, written into its cdk.json (``accepts_from.public_key``): a key replaced by a deploy
would break that chain, so it is kept where the environment keeps its data. Automatic
rotation exists only for symmetric keys ("You cannot enable automatic rotation of asymmetric
KMS keys", EnableKeyRotation in the KMS API reference; cdk-nag's KMS5 checks symmetric keys
only); a new key means a new public key for the next environment.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class AttestationKey(Construct):
    """An ECC_NIST_P256 SIGN_VERIFY key; only the functions that sign are granted kms:Sign."""

    def __init__(self, scope: Construct, id_: str, *, environment: str, retain: bool) -> None:
        super().__init__(scope, id_)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Slipway {environment}: signs attestations of approved and live versions",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            enable_key_rotation=False,
            pending_window=Duration.days(30 if retain else 7),
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )

    def grant_sign(self, grantee: iam.IGrantable) -> None:
        """Sign with the key (the RAW message of registry/attestation.py), nothing else."""
        self.key.grant(grantee, "kms:Sign")
