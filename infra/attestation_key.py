"""AttestationKey: the environment's asymmetric KMS key that signs what it did with versions.

The next environment in the chain verifies those statements offline with this key's public
half, written into its cdk.json (``accepts_from.public_key``): a key replaced by a deploy
would break that chain, so it is kept where the environment keeps its data. Automatic
rotation exists only for symmetric keys ("You cannot enable automatic rotation of asymmetric
KMS keys", EnableKeyRotation in the KMS API reference; cdk-nag's KMS5 checks symmetric keys
only); a new key means a new public key for the next environment.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# The tag a role must carry to sign: the key's policy denies kms:Sign to every other
# principal, so an IAM policy granting kms:Sign on "*" elsewhere in the account signs nothing.
SIGNER_TAG = "slipway:attestation-signer"


class AttestationKey(Construct):
    """An ECC_NIST_P256 SIGN_VERIFY key; only the functions that sign are granted kms:Sign,
    and the key itself refuses Sign to any principal not tagged as this environment's signer."""

    def __init__(self, scope: Construct, id_: str, *, environment: str, retain: bool) -> None:
        super().__init__(scope, id_)
        self.environment = environment
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
        # A tag rather than role ARNs: the signers' roles live in stacks that already depend
        # on this key (their grants name it), and ARNs in its policy would close a cycle.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyThisEnvironmentsSignersSign",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:Sign"],
                resources=["*"],
                conditions={"StringNotEquals": {f"aws:PrincipalTag/{SIGNER_TAG}": environment}},
            )
        )

    def grant_sign(self, grantee: iam.IGrantable) -> None:
        """Sign with the key (the RAW message of registry/attestation.py), nothing else; the
        grantee's role is tagged as this environment's signer, which the key's policy asks."""
        self.key.grant(grantee, "kms:Sign")
        role = grantee.grant_principal
        if not isinstance(role, iam.Role):
            raise TypeError(f"only a role can be tagged to sign with the key, not {role}")
        Tags.of(role).add(SIGNER_TAG, self.environment)
