"""CiAccess: the IAM roles a team's GitHub Actions jobs assume, one per duty, through GitHub's
OIDC provider: no long-lived AWS keys in GitHub.

Each role holds a subset of the duty policies' statements (infra/duty_policies.py), on this
environment's resources only, and trusts exactly one subject claim of one repository:

- push: jobs on ``push_branch`` upload bundles (`slipway push`) and follow their gate
  (`slipway status --watch`).
- promote: jobs in the GitHub environment ``promote_environment`` do the same for a version
  `slipway promote` brings from the earlier environment.
- promote-source: jobs in ``promote_source_environment`` (the next environment's promote
  jobs) read this environment's registry (the version, a fresh attestation) and its bundles
  by version id: the other half of `slipway promote`, in this account.
- approve: jobs in ``approve_environment`` call the registry API (`slipway approve`,
  `slipway reject`), which checks them against the environment's ``approvers``.

GitHub's documentation on AWS: docs.github.com/en/actions/how-tos/secure-your-work/
security-harden-deployments/oidc-in-aws (provider URL https://token.actions.githubusercontent.com,
audience sts.amazonaws.com, "evaluate the condition key token.actions.githubusercontent.com:sub
in the trust policy"); the subject claim formats: docs.github.com/en/actions/reference/
security/oidc.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST, CiConfig
from infra.duty_policies import DutyPolicies

# What each CI duty's `slipway` commands call, as Sids of the duty policies' statements.
# push, and promote on the target side: resolve_target reads the stack outputs; push declares
# the upload to the registry and puts the bundle (KMS where a key encrypts the bucket);
# status --watch finds the promotion from the object's versions, follows its execution and
# reads the version and live pointer from the table.
_SHIP = (
    "ReadStackOutputs",
    "CallRegistryInvokeFunctionUrl",
    "CallRegistryInvokeFunction",
    "UploadBundles",
    "EncryptAndDecryptBundles",
    "FindPromotions",
    "FollowPromotions",
    "ReadRegistry",
)
# the pushers' KMS statement exists only where a key of the environment encrypts the bucket
ONLY_WITH_A_BUCKET_KEY = frozenset({"EncryptAndDecryptBundles"})
CI_DUTY_STATEMENTS: dict[str, tuple[str, ...]] = {
    "push": _SHIP,
    "promote": _SHIP,
    # the registry's GET version and POST attestation, and GetObject by version id (decrypt
    # where a key encrypts the bucket: EncryptAndDecryptBundles, shared with pushers, also
    # holds kms:GenerateDataKey, which is no use without PutObject)
    "promote-source": (
        "ReadStackOutputs",
        "CallRegistryInvokeFunctionUrl",
        "CallRegistryInvokeFunction",
        "DownloadBundles",
        "EncryptAndDecryptBundles",
    ),
    "approve": (
        "ReadStackOutputs",
        "CallRegistryInvokeFunctionUrl",
        "CallRegistryInvokeFunction",
    ),
}


def github_subjects(config: CiConfig) -> dict[str, str]:
    """The one subject claim each duty's role trusts, for the duties the config sets."""
    repo = f"repo:{config.github_repository}"
    subjects = {
        "push": config.push_branch and f"{repo}:ref:refs/heads/{config.push_branch}",
        "promote": config.promote_environment
        and f"{repo}:environment:{config.promote_environment}",
        "promote-source": config.promote_source_environment
        and f"{repo}:environment:{config.promote_source_environment}",
        "approve": config.approve_environment
        and f"{repo}:environment:{config.approve_environment}",
    }
    return {duty: subject for duty, subject in subjects.items() if subject}


def ci_role_name(environment: str, duty: str) -> str:
    """'prod', 'approve' -> 'slipway-prod-ci-approve' (57 characters at most; IAM's limit
    is 64)."""
    return f"slipway-{environment}-ci-{duty}"


def role_output(duty: str) -> str:
    """The stack output naming a duty's role ARN: 'promote-source' -> 'CiPromoteSourceRoleArn'.
    docs/cicd.md tells which GitHub variable each goes into."""
    return "Ci" + "".join(part.capitalize() for part in duty.split("-")) + "RoleArn"


class CiAccess(Construct):
    """GitHub's OIDC provider (created, or the account's imported by ARN) and a role per duty
    the config sets; ``roles`` maps each duty to its role."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: str,
        config: CiConfig,
        duty_policies: DutyPolicies,
    ) -> None:
        """``environment``: the cdk.json name, which the roles' names carry."""
        super().__init__(scope, id_)
        self.provider: iam.OidcProviderNative | None = None  # None: imported by ARN
        if config.oidc_provider_arn is not None:
            provider_arn = config.oidc_provider_arn
        else:
            # No thumbprint: IAM secures GitHub's provider with its library of trusted root
            # CAs and ignores thumbprints for it (IAM API reference,
            # UpdateOpenIDConnectProviderThumbprint: "These OIDC IdPs include Auth0, GitHub,
            # GitLab, Google..."); the native AWS::IAM::OIDCProvider needs no custom resource.
            self.provider = iam.OidcProviderNative(
                self,
                "GitHubProvider",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_ids=[GITHUB_OIDC_AUDIENCE],
            )
            provider_arn = self.provider.oidc_provider_arn
        self.roles: dict[str, iam.Role] = {}
        for duty, subject in github_subjects(config).items():
            statements = [
                duty_policies.statements[sid]
                for sid in CI_DUTY_STATEMENTS[duty]
                if sid in duty_policies.statements or sid not in ONLY_WITH_A_BUCKET_KEY
            ]
            self.roles[duty] = iam.Role(
                self,
                "".join(part.capitalize() for part in duty.split("-")) + "Role",
                # a fixed name: the ARN is known before the deploy, for GitHub's variables and
                # the registry's approvers (arn:aws:sts::ACCOUNT:assumed-role/NAME/*)
                role_name=ci_role_name(environment, duty),
                description=f"GitHub Actions: the {duty} duty of {config.github_repository} "
                "(docs/cicd.md)",
                # StringEquals on both claims: exactly this repository and branch or
                # environment, never a pattern (StringLike with '*' would let any branch or
                # any environment of the repository in)
                assumed_by=iam.WebIdentityPrincipal(
                    provider_arn,
                    conditions={
                        "StringEquals": {
                            f"{GITHUB_OIDC_HOST}:aud": GITHUB_OIDC_AUDIENCE,
                            f"{GITHUB_OIDC_HOST}:sub": subject,
                        }
                    },
                ),
                max_session_duration=Duration.hours(config.max_session_hours),
                inline_policies={"Duty": iam.PolicyDocument(statements=statements)},
            )
